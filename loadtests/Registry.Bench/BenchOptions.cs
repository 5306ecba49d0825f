using System.Globalization;

namespace Registry.Bench;

/// <summary>Command-line options of the benchmark.</summary>
internal sealed record BenchOptions(string? Storage, int Rounds, int Seconds, int Concurrency, int Devices, bool NoAuth, int Partitions)
{
    public static BenchOptions Parse(string[] args)
    {
        string? Value(string name)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }
        int Int(string name, int fallback) => Value(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        return new BenchOptions(Value("--storage"), Int("--rounds", 3), Int("--seconds", 8), Int("--concurrency", 32), Int("--devices", 2000), args.Contains("--no-auth"), Int("--partitions", 256));
    }
}
