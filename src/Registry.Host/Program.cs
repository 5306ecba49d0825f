using Registry.Host;

try
{
    return await RegistryHost.RunToExitAsync(RegistryHost.Build(args), Console.Error);
}
catch (Exception e) when (RegistryHost.RefusalOf(e) is { } refusal)
{
    // A refused start is an operator's mistake, not a crash: the message alone says what to do.
    await Console.Error.WriteLineAsync(refusal);
    return 1;
}
