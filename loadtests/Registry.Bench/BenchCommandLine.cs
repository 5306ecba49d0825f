using System.Globalization;
using System.Runtime.InteropServices;

namespace Registry.Bench;

/// <summary>A command line the benchmark cannot run: said in one line, exit code 2, nothing started.</summary>
internal sealed class UsageException(string message) : ArgumentException(message);

/// <summary>
/// The options of a command, checked before anything starts: an option no command knows, one without its value, or a
/// number that is not one is a <see cref="UsageException"/>. Before 2026-12-07 an unknown option (a typo, <c>--help</c>)
/// was ignored and a full run started: a 1,000,000-device fill for <c>scale --help</c> (a review).
/// </summary>
internal static class BenchArgs
{
    /// <summary>Refuses any argument of <paramref name="args"/> that is not one of <paramref name="valued"/> (each followed by its value) or <paramref name="flags"/>.</summary>
    public static void Check(string command, string[] args, IReadOnlyCollection<string> valued, IReadOnlyCollection<string> flags)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (valued.Contains(args[i]))
            {
                if (++i >= args.Length)
                {
                    throw new UsageException($"{args[i - 1]} needs a value.");
                }
            }
            else if (!flags.Contains(args[i]))
            {
                throw new UsageException($"{command}: unknown option '{args[i]}'. Options: {string.Join(' ', valued.Concat(flags))}.");
            }
        }
    }

    /// <summary>The whole number <paramref name="value"/> of <paramref name="option"/> (digits, '_' allowed between them), within <paramref name="min"/>..<paramref name="max"/>.</summary>
    public static int Int(string option, string value, int min = 1, int max = int.MaxValue)
    {
        if (!int.TryParse(value.Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
        {
            throw new UsageException($"{option} takes a whole number, not '{value}'.");
        }
        return number >= min && number <= max ? number : throw new UsageException($"{option} is {min}..{max}, not {number}.");
    }

    /// <summary>The number <paramref name="value"/> of <paramref name="option"/>, above 0.</summary>
    public static double Positive(string option, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && number > 0 && double.IsFinite(number)
            ? number
            : throw new UsageException($"{option} takes a number above 0, not '{value}'.");

    /// <summary>The value after <paramref name="option"/> in <paramref name="args"/> (its first occurrence), or null.</summary>
    public static string? Value(string[] args, string option) =>
        Array.IndexOf(args, option) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

    /// <summary><c>--set Key=Value</c>, repeatable: host settings.</summary>
    public static Dictionary<string, string?> Settings(string[] args)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i + 1 < args.Length; i++)
        {
            if (args[i] == "--set")
            {
                var kv = args[++i].Split('=', 2);
                if (kv.Length != 2 || kv[0].Length == 0)
                {
                    throw new UsageException($"--set takes Key=Value (e.g. Registry:DeviceStorage=Batched), not '{args[i]}'.");
                }
                settings[kv[0]] = kv[1];
            }
        }
        return settings;
    }
}

/// <summary>
/// SIGINT (Ctrl+C) and SIGTERM end a run cleanly: <see cref="Token"/> is cancelled, the command stops at its next
/// boundary (a phase, a step), stops what it started and reports what it measured. A second signal ends the process
/// at once (exit 130 or 143). Before 2026-12-07 the registry benchmark ignored both and ran every round to its end.
/// </summary>
internal sealed class BenchStop : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;

    public BenchStop(string whatHappens)
    {
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            if (_stop.IsCancellationRequested)
            {
                Console.Error.WriteLine($"{context.Signal} again: aborting, nothing more is reported.");
                Environment.Exit(context.Signal == PosixSignal.SIGINT ? 130 : 143);
            }
            Console.Error.WriteLine($"{context.Signal}: {whatHappens} (a second signal aborts at once).");
            _stop.Cancel();
        }
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    public CancellationToken Token => _stop.Token;

    public bool Requested => _stop.IsCancellationRequested;

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _stop.Dispose();
    }
}
