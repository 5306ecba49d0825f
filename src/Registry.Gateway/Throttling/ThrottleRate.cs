using System.Globalization;
using System.Text.RegularExpressions;

namespace Registry.Gateway.Throttling;

/// <summary>
/// A throttle's allowance, <see cref="Count"/> operations per <see cref="Window"/>, written the way IoT Hub's quota
/// table writes it (<c>100/min</c>, <c>120/s</c>). The window is also the burst: an idle hub admits
/// <see cref="Count"/> operations at once, then one every <c>Window / Count</c>.
/// </summary>
public readonly partial record struct ThrottleRate
{
    /// <summary>Keeps the bucket's integer arithmetic (count × window ticks) far from overflow.</summary>
    public const long MaxCount = 100_000_000;

    public ThrottleRate(long count, TimeSpan window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxCount);
        if (window != TimeSpan.FromSeconds(1) && window != TimeSpan.FromMinutes(1) && window != TimeSpan.FromHours(1))
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, "The window is one second, one minute or one hour.");
        }
        Count = count;
        Window = window;
    }

    public long Count { get; }

    public TimeSpan Window { get; }

    public static ThrottleRate PerSecond(long count) => new(count, TimeSpan.FromSeconds(1));

    public static ThrottleRate PerMinute(long count) => new(count, TimeSpan.FromMinutes(1));

    public static ThrottleRate PerHour(long count) => new(count, TimeSpan.FromHours(1));

    /// <summary>Reads <c>&lt;count&gt;/&lt;s|sec|min|h|hour…&gt;</c>, e.g. <c>100/min</c>, <c>6000/s</c>, <c>2/h</c>.</summary>
    public static bool TryParse(string? text, out ThrottleRate rate)
    {
        rate = default;
        var match = text is null ? Match.Empty : RateSyntax().Match(text);
        if (!match.Success || !long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            || count is < 1 or > MaxCount)
        {
            return false;
        }
        var window = match.Groups[2].Value.ToLowerInvariant() switch
        {
            "s" or "sec" or "second" => TimeSpan.FromSeconds(1),
            "min" or "minute" => TimeSpan.FromMinutes(1),
            _ => TimeSpan.FromHours(1),
        };
        rate = new ThrottleRate(count, window);
        return true;
    }

    public override string ToString() =>
        $"{Count.ToString(CultureInfo.InvariantCulture)}/{(Window.TotalSeconds switch { 1 => "s", 60 => "min", _ => "h" })}";

    [GeneratedRegex(@"^\s*(\d+)\s*/\s*(s|sec|second|min|minute|h|hour)\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex RateSyntax();
}
