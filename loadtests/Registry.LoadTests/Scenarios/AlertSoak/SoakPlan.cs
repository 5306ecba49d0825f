using System.Globalization;

namespace Registry.LoadTests.Scenarios.AlertSoak;

/// <summary>
/// Which devices of an alert soak go silent and which of those come back, drawn from a seed: the same seed and sizes
/// give the same devices on every machine, so a failed soak can be run again on exactly the same set. Indices are into
/// the soak's device list; each set is sorted.
/// </summary>
internal sealed record SoakPlan(int Devices, int Seed, IReadOnlyList<int> Silent, IReadOnlyList<int> Recovering)
{
    /// <summary>
    /// Draws <paramref name="silent"/> of <paramref name="devices"/> without repetition (a partial Fisher–Yates shuffle of
    /// <see cref="Random"/> seeded with <paramref name="seed"/>, whose sequence .NET keeps stable for a given seed),
    /// then <paramref name="recovering"/> of those, from the same draw.
    /// </summary>
    public static SoakPlan Draw(int devices, int seed, int silent, int recovering)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(devices);
        if (silent < 0 || silent > devices || recovering < 0 || recovering > silent)
        {
            throw new ArgumentOutOfRangeException(nameof(silent), $"{silent} silent of {devices} devices, {recovering} of them recovering: each set must fit in the one before.");
        }
        var random = new Random(seed);
        var order = new int[devices];
        for (var i = 0; i < devices; i++)
        {
            order[i] = i;
        }
        for (var i = 0; i < silent; i++)
        {
            var j = random.Next(i, devices);
            (order[i], order[j]) = (order[j], order[i]);
        }
        // The first `silent` drawn go silent; the first `recovering` of those, themselves a random draw, come back.
        return new SoakPlan(devices, seed, [.. order.Take(silent).Order()], [.. order.Take(recovering).Order()]);
    }

    /// <summary>
    /// A share written <c>1%</c> (of <paramref name="of"/>, rounded, at least one when the share is above zero) or a
    /// plain count (<c>250</c>).
    /// </summary>
    public static int Share(string text, int of, string option)
    {
        if (text.EndsWith('%'))
        {
            if (!double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var percent) || percent is < 0 or > 100)
            {
                throw new ArgumentException($"{option} {text}: a share is 0% to 100%, or a count.");
            }
            var count = (int)Math.Round(of * percent / 100, MidpointRounding.AwayFromZero);
            return percent > 0 && of > 0 ? Math.Max(1, count) : count;
        }
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var exact) || exact > of)
        {
            throw new ArgumentException($"{option} {text}: a share is 0% to 100%, or a count of at most {of}.");
        }
        return exact;
    }
}
