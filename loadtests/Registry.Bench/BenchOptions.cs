namespace Registry.Bench;

/// <summary>Command-line options of the registry benchmark (the default command), checked before anything starts.</summary>
internal sealed record BenchOptions(string? Storage, int Rounds, int Seconds, int Concurrency, int Devices, bool NoAuth, int Partitions,
    IReadOnlyDictionary<string, string?> HostSettings, int? AzuritePid)
{
    private static readonly string[] Valued = ["--storage", "--rounds", "--seconds", "--concurrency", "--devices", "--partitions", "--set", "--azurite-pid"];
    private static readonly string[] Flags = ["--no-auth"];

    public static BenchOptions Parse(string[] args)
    {
        BenchArgs.Check("the registry benchmark", args, Valued, Flags);
        int Int(string name, int fallback, int max = int.MaxValue) => BenchArgs.Value(args, name) is { } v ? BenchArgs.Int(name, v, 1, max) : fallback;
        return new BenchOptions(BenchArgs.Value(args, "--storage"), Int("--rounds", 3), Int("--seconds", 8, 3600), Int("--concurrency", 32, 10_000),
            Int("--devices", 2000, 10_000_000), args.Contains("--no-auth"), Int("--partitions", 256, 1024),
            // Host settings for both registries (--set Registry:DeviceStorage=Table, repeatable).
            BenchArgs.Settings(args),
            // Azurite's process, whose CPU time each storage phase reports (bench-registry.sh passes the one it started).
            BenchArgs.Value(args, "--azurite-pid") is { } pid ? BenchArgs.Int("--azurite-pid", pid) : null);
    }
}
