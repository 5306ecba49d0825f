using Registry.Bench;

// The benchmarks of the registry, each measured beside its ceiling in the same run. `--help` lists them.
var commands = new Dictionary<string, Func<string[], Task<int>>>(StringComparer.Ordinal)
{
    ["scale"] = Registry.Bench.Scale.ScaleCommand.RunAsync,
    ["heartbeat"] = Registry.Bench.Heartbeats.HeartbeatCommand.RunAsync,
    ["mqtt"] = Registry.Bench.Mqtt.MqttCommand.RunAsync,
    // The load generator of `mqtt`, run by it as a child process.
    ["mqtt-load"] = Registry.Bench.Mqtt.MqttLoad.RunAsync,
    ["jobs"] = Registry.Bench.Jobs.JobsCommand.RunAsync,
    ["monitor-cost"] = Registry.Bench.Heartbeats.MonitorCostCommand.RunAsync,
};

if (args.Any(a => a is "--help" or "-h" or "help"))
{
    Console.WriteLine(BenchUsage.Text);
    return 0;
}
try
{
    if (args.Length > 0 && !args[0].StartsWith('-'))
    {
        return commands.TryGetValue(args[0], out var command)
            ? await command(args[1..])
            : throw new UsageException($"unknown command '{args[0]}'; the commands are {string.Join(", ", commands.Keys.Where(k => k != "mqtt-load"))}, or none for the registry benchmark.");
    }
    return await RegistryBenchCommand.RunAsync(args);
}
catch (UsageException e)
{
    Console.Error.WriteLine($"Registry.Bench: {e.Message} (--help lists the commands and their options)");
    return 2;
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    // One line, as the registry's own refusals are: a storage that does not answer was a stack trace and exit 134.
    Console.Error.WriteLine($"Registry.Bench failed: {BenchUsage.Describe(e)}");
    return 1;
}
