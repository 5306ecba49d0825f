using Registry.Host;

try
{
    await RegistryHost.Build(args).RunAsync();
    return 0;
}
catch (RegistryStartupException e)
{
    // A refused start is an operator's mistake, not a crash: the message alone says what to do.
    await Console.Error.WriteLineAsync(e.Message);
    return 1;
}
