using Registry.Host;

if (HostUsage.IsHelp(args))
{
    Console.Out.Write(HostUsage.Text);
    return 0;
}
if (HostUsage.IsVersion(args))
{
    Console.Out.WriteLine($"Registry.Host {HostUsage.Version}");
    return 0;
}
if (HostUsage.ArgumentProblem(args) is { } badArguments)
{
    await Console.Error.WriteLineAsync(badArguments);
    return 1;
}

// A stop that comes before the host takes signals itself (its first second or two) stops the start the same way.
using var earlyStop = EarlyStop.Register();
try
{
    return await RegistryHost.RunToExitAsync(RegistryHost.Build(args), Console.Error, earlyStop.Requested);
}
catch (Exception e) when (RegistryHost.RefusalOf(e) is { } refusal)
{
    // A refused start is an operator's mistake, not a crash: the message alone says what to do.
    await Console.Error.WriteLineAsync(refusal);
    return 1;
}
