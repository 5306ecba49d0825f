using System.Globalization;

namespace Registry.Bench;

/// <summary>Command-line options of the benchmark.</summary>
internal sealed record BenchOptions(string? Storage, int Rounds, int Seconds, int Concurrency, int Devices, bool NoAuth, int Partitions,
    IReadOnlyDictionary<string, string?> HostSettings, int? AzuritePid)
{
    public static BenchOptions Parse(string[] args)
    {
        string? Value(string name)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }
        int Int(string name, int fallback) => Value(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        return new BenchOptions(Value("--storage"), Int("--rounds", 3), Int("--seconds", 8), Int("--concurrency", 32), Int("--devices", 2000), args.Contains("--no-auth"), Int("--partitions", 256),
            // Host settings for both registries (--set Registry:DeviceStorage=Table, repeatable).
            args.Select((a, i) => (a, i)).Where(x => x.a == "--set" && x.i + 1 < args.Length)
                .Select(x => args[x.i + 1].Split('=', 2))
                .ToDictionary(kv => kv[0], kv => kv.Length == 2 ? kv[1] : null),
            // Azurite's process, whose CPU time each storage phase reports (bench-registry.sh passes the one it started).
            Value("--azurite-pid") is { } pid ? int.Parse(pid, CultureInfo.InvariantCulture) : null);
    }
}
