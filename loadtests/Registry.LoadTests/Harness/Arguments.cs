using System.Globalization;

namespace Registry.LoadTests.Harness;

/// <summary>
/// The largest sizes a scenario takes: above them a run would only start filling (or connecting) until memory, ports or
/// the job's timeout ran out, so they are refused by name before anything starts.
/// </summary>
internal static class ScenarioLimits
{
    /// <summary>Devices a scenario creates and drives through the grain interface or storage: ten times issue 8's million.</summary>
    public const int MaxDevices = 10_000_000;

    /// <summary>Devices with their own HTTPS SAS token, each token held for the whole run.</summary>
    public const int MaxHttpDevices = 1_000_000;

    /// <summary>MQTT devices, each an open TLS connection: the registry's default <c>MqttMaxConnections</c>.</summary>
    public const int MaxMqttDevices = 100_000;

    /// <summary>Connects, inserts or requests a scenario keeps in flight by itself.</summary>
    public const int MaxParallelism = 10_000;
}

/// <summary>
/// The command line after the scenario's name: <c>--name value</c> pairs and bare <c>--flags</c>. The harness and the
/// scenario each read theirs; whatever nobody read is an error, so a misspelt option never runs silently with defaults.
/// </summary>
internal sealed class Arguments
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public Arguments(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"'{args[i]}' is not an option (options start with --).");
            }
            var name = args[i];
            // A repeated option ran with its last value, silently (`--devices 50 --devices 20` ran 20).
            if (_values.ContainsKey(name))
            {
                throw new ArgumentException($"{name} is given twice: give it once.");
            }
            _values[name] = i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null;
        }
    }

    public string? String(string name)
    {
        _read.Add(name);
        return _values.TryGetValue(name, out var value) ? value ?? throw new ArgumentException($"{name} needs a value.") : null;
    }

    public bool Flag(string name)
    {
        _read.Add(name);
        return _values.TryGetValue(name, out var value) && (value is null ? true : throw new ArgumentException($"{name} takes no value."));
    }

    public long Long(string name, long fallback, long min = 0, long max = long.MaxValue) =>
        String(name) is { } v ? Check(name, Parsed(name, v, "a whole number", t => long.Parse(t.Replace("_", ""), CultureInfo.InvariantCulture)), min, max) : fallback;

    public int Int(string name, int fallback, int min = 0, int max = int.MaxValue) =>
        Long(name, fallback, min, max) is var value && value <= int.MaxValue ? (int)value : throw new ArgumentException($"{name} must be at most {int.MaxValue}.");

    public double Double(string name, double fallback) =>
        String(name) is { } v ? Parsed(name, v, "a number", t => double.Parse(t, CultureInfo.InvariantCulture)) : fallback;

    /// <summary>
    /// A duration option; <paramref name="positive"/> refuses zero (a step of no time measures nothing). Every one is at
    /// most <see cref="Durations.Max"/>: a step's timer (<c>CancelAfter</c>) threw on 1200h after the target had started.
    /// </summary>
    public TimeSpan Duration(string name, TimeSpan fallback, bool positive = false)
    {
        if (String(name) is not { } v)
        {
            return fallback;
        }
        var value = Parsed(name, v, "a duration such as 500ms, 30s, 5m or 1h", Durations.Parse);
        return positive && value <= TimeSpan.Zero ? throw new ArgumentException($"{name} must be above 0 ('{v}' was given).")
            : value > Durations.Max ? throw new ArgumentException($"{name} must be at most {Durations.Max.TotalDays:0} days ('{v}' was given).")
            : value;
    }

    /// <summary>Parses an option's value, naming the option and what it takes when the value is not one.</summary>
    private static T Parsed<T>(string name, string value, string what, Func<string, T> parse)
    {
        try
        {
            return parse(value);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new ArgumentException($"{name} takes {what}; '{value}' is not one.", e);
        }
    }

    /// <summary>
    /// Throws naming every option nobody read. <paramref name="elsewhere"/> names, for an option, the scenarios that do
    /// take it: such an option is "not for this scenario", which helps more than "unknown" (the review's D10:
    /// <c>heartbeat-http --mode single</c> was told --mode is unknown, though heartbeat-grain takes it).
    /// </summary>
    public void EnsureAllRead(string scenario = "this scenario", Func<string, string?, IReadOnlyList<string>>? elsewhere = null)
    {
        var unread = _values.Where(v => !_read.Contains(v.Key)).ToList();
        var misplaced = unread.Select(v => (v.Key, Takers: elsewhere?.Invoke(v.Key, v.Value) ?? [])).Where(v => v.Takers.Count > 0).ToList();
        var unknown = unread.Select(v => v.Key).Except(misplaced.Select(m => m.Key)).ToList();
        var problems = misplaced.Select(m => $"{m.Key} does not apply to {scenario} (it is an option of {string.Join(", ", m.Takers)})").ToList();
        if (unknown.Count > 0)
        {
            problems.Insert(0, $"Unknown option{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown)}");
        }
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", problems) + ".");
        }
    }

    /// <summary>True when the option was asked for (given or not).</summary>
    public bool WasRead(string name) => _read.Contains(name);

    private static long Check(string name, long value, long min, long max) =>
        value < min ? throw new ArgumentException($"{name} must be at least {min}.")
        : value > max ? throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{name} must be at most {max:N0}."))
        : value;
}

/// <summary>The options every scenario shares: load model, bounds, rounds, where the report goes.</summary>
internal sealed record HarnessOptions(LoadModel? Model, RunBounds Bounds, int Rounds, bool Ceiling, bool Plots, bool Live, string? Output)
{
    /// <summary>
    /// How long a ceiling step runs when the steps are bounded by a count (<c>--ceiling-duration</c>): a ratio needs
    /// a steady rate, not ten million no-op calls. Null: the ceilings share the steps' bounds.
    /// </summary>
    public TimeSpan? CeilingDuration { get; init; }

    /// <summary>The bounds of <paramref name="step"/>: its own, the ceilings' when it is one, or the run's.</summary>
    public RunBounds BoundsOf(Step step) =>
        step.Bounds ?? (step.CeilingOf is not null && CeilingDuration is { } d ? Bounds with { Duration = d, Count = null } : Bounds);

    public static HarnessOptions Read(Arguments args)
    {
        var model = args.String("--model") is { } m ? LoadModel.Parse(m) : null;
        var count = args.String("--count") is null ? (long?)null : args.Long("--count", 0, min: 1);
        var bounds = new RunBounds(
            args.Duration("--duration", RunBounds.Default.Duration, positive: true),
            count,
            args.Duration("--warmup", RunBounds.Default.WarmUp),
            args.Duration("--drain", RunBounds.Default.Drain));
        if (args.Flag("--no-ceiling") && args.String("--ceiling-duration") is not null)
        {
            // Taken without a word, bounding nothing (a hostile review, 2026-12-04).
            throw new ArgumentException("--ceiling-duration bounds the ceilings, and --no-ceiling runs none: give one of them.");
        }
        return new HarnessOptions(model, bounds, args.Int("--rounds", 1, min: 1), !args.Flag("--no-ceiling"), !args.Flag("--no-plots"), !args.Flag("--no-live"), args.String("--out"))
        {
            CeilingDuration = args.String("--ceiling-duration") is null ? null : args.Duration("--ceiling-duration", TimeSpan.Zero, positive: true),
        };
    }
}
