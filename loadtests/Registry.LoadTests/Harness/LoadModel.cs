using System.Globalization;
using System.Text.RegularExpressions;

namespace Registry.LoadTests.Harness;

/// <summary>Open: calls are injected at a rate whatever the target does; closed: a number of calls is kept in flight.</summary>
internal enum LoadKind
{
    Open,
    Closed,
}

/// <summary>
/// How a step loads its target: a rate (open, items per second) or a number of calls in flight (closed), ramping linearly
/// from <see cref="From"/> to <see cref="To"/> over <see cref="Ramp"/> and holding <see cref="To"/> after it. Written
/// <c>open:5000</c>, <c>open:100..5000/30s</c>, <c>closed:64</c> or <c>closed:1..256/20s</c> on the command line.
/// </summary>
internal sealed partial record LoadModel(LoadKind Kind, double From, double To, TimeSpan Ramp)
{
    public static LoadModel Open(double rate) => new(LoadKind.Open, rate, rate, TimeSpan.Zero);

    /// <summary>
    /// The open model of <paramref name="devices"/> each beating once per <paramref name="interval"/>, within the same
    /// bound as a <c>--model</c>: <c>--devices 1000000 --interval 100ms</c> asked for 10,000,000 calls per second and was
    /// taken, where <c>--model open:1000001</c> is refused (a hostile review, 2026-12-04).
    /// </summary>
    public static LoadModel ForInterval(long devices, TimeSpan interval)
    {
        var rate = devices / interval.TotalSeconds;
        return rate > MaxLoad
            ? throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"--interval {interval.TotalSeconds:0.###}s: {devices:N0} devices each once an interval is {rate:N0} heartbeats per second; a load model asks for at most {MaxLoad:N0} calls per second."))
            : Open(rate);
    }

    public static LoadModel Closed(int inFlight) => new(LoadKind.Closed, inFlight, inFlight, TimeSpan.Zero);

    /// <summary>The rate (open) or the calls in flight (closed) the model asks for <paramref name="elapsed"/> into the step.</summary>
    public double At(TimeSpan elapsed) =>
        Ramp <= TimeSpan.Zero || elapsed >= Ramp ? To : From + (To - From) * (elapsed / Ramp);

    /// <summary>The same model without its ramp, held at its start: what the warm-up runs, so it never outruns the measured start.</summary>
    public LoadModel Start => this with { To = From, Ramp = TimeSpan.Zero };

    public override string ToString()
    {
        var kind = Kind == LoadKind.Open ? "open" : "closed";
        return Ramp <= TimeSpan.Zero || From == To
            ? string.Create(CultureInfo.InvariantCulture, $"{kind}:{Number(To)}")
            : string.Create(CultureInfo.InvariantCulture, $"{kind}:{Number(From)}..{Number(To)}/{Ramp.TotalSeconds:0.###}s");
    }

    /// <summary>
    /// A rate as the command line reads it back: two decimals, or as many significant digits as a rate below one needs
    /// (open:0.001 read "open:0", a model the parser refuses).
    /// </summary>
    private static string Number(double x) =>
        x is > 0 and < 1 ? x.ToString("0.######", CultureInfo.InvariantCulture) is var fine && fine != "0" ? fine : x.ToString("G3", CultureInfo.InvariantCulture)
        : x.ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>
    /// The most calls in flight (closed) or per second (open) a model may ask for: closed:99999999999 allocated its
    /// workers until "Out of memory", far beyond what one process can drive.
    /// </summary>
    public const double MaxLoad = 1_000_000;

    public static LoadModel Parse(string text)
    {
        var match = Syntax().Match(text.Trim());
        if (!match.Success)
        {
            throw new ArgumentException($"'{text}' is not a load model: write open:RATE, open:FROM..TO/RAMPs, closed:N or closed:FROM..TO/RAMPs.");
        }
        var kind = match.Groups["kind"].Value == "open" ? LoadKind.Open : LoadKind.Closed;
        var from = double.Parse(match.Groups["from"].Value, CultureInfo.InvariantCulture);
        var to = match.Groups["to"].Success ? double.Parse(match.Groups["to"].Value, CultureInfo.InvariantCulture) : from;
        var ramp = match.Groups["ramp"].Success ? Durations.Parse(match.Groups["ramp"].Value) : TimeSpan.Zero;
        if (match.Groups["to"].Success != match.Groups["ramp"].Success)
        {
            throw new ArgumentException($"'{text}': a ramp needs both FROM..TO and /DURATION.");
        }
        // The model holds To after the ramp: an open model at rate 0 would never send, a closed one would never start.
        if (to <= 0 || from < 0 || (kind == LoadKind.Closed && (from != Math.Floor(from) || to != Math.Floor(to))))
        {
            throw new ArgumentException($"'{text}': the target must be above 0 (and whole for a closed model).");
        }
        if (from > MaxLoad || to > MaxLoad)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"'{text}': a load model asks for at most {MaxLoad:N0} {(kind == LoadKind.Open ? "calls per second" : "calls in flight")}."));
        }
        if (ramp > Durations.Max)
        {
            throw new ArgumentException($"'{text}': a ramp lasts at most {Durations.Max.TotalDays:0} days.");
        }
        return new LoadModel(kind, from, to, ramp);
    }

    [GeneratedRegex(@"^(?<kind>open|closed):(?<from>\d+(\.\d+)?)(\.\.(?<to>\d+(\.\d+)?))?(/(?<ramp>[0-9.]+(ms|s|m|h)?))?$")]
    private static partial Regex Syntax();
}

/// <summary>Durations on the command line: <c>500ms</c>, <c>30s</c>, <c>5m</c>, <c>1h</c>; a bare number is seconds.</summary>
internal static class Durations
{
    /// <summary>
    /// The longest duration an option takes: 30 days, far past any run and well under what a timer accepts
    /// (<c>CancelAfter</c> refuses about 49.7 days and more).
    /// </summary>
    public static readonly TimeSpan Max = TimeSpan.FromDays(30);

    public static TimeSpan Parse(string text)
    {
        var (number, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : text.EndsWith('h') ? (text[..^1], 3600.0)
            : (text, 1.0);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0)
        {
            throw new ArgumentException($"'{text}' is not a duration (500ms, 30s, 5m, 1h).");
        }
        return TimeSpan.FromSeconds(value * unit);
    }
}
