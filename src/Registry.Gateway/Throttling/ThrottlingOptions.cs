using Microsoft.Extensions.Options;

namespace Registry.Gateway.Throttling;

/// <summary>
/// Which IoT Hub's throttles the gateway reproduces, bound from <c>Registry:Throttling</c>. Off by default, so local
/// development is never slowed; a team turns it on with its production hub's tier and units to see the 429s that
/// hub would answer, and overrides single throttles where its hub differs.
/// </summary>
public sealed class ThrottlingOptions
{
    /// <summary>The configuration section under <c>Registry</c>.</summary>
    public const string Section = "Throttling";

    public bool Enabled { get; set; }

    public HubTier Tier { get; set; } = HubTier.S1;

    /// <summary>The hub's unit count; per-unit throttles scale with it.</summary>
    public int Units { get; set; } = 1;

    /// <summary>
    /// Per-throttle rates that replace the tier's, keyed by <see cref="OperationClass"/> name (case-insensitive),
    /// written <c>250/min</c>, <c>500/s</c> or <c>2/h</c>.
    /// </summary>
    public Dictionary<string, string> Overrides { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// What is wrong with the settings, one line each naming the setting and what it accepts; empty when the throttle
    /// can be built. The host checks this before it writes anything, so a mistake never leaves files behind.
    /// </summary>
    public IReadOnlyList<string> Problems() => Resolve().Errors;

    /// <summary>IoT Hub's largest unit count per tier: Free 1, B3 and S3 10, the others 200.</summary>
    public static int MaxUnits(HubTier tier) => tier switch
    {
        HubTier.Free => 1,
        HubTier.B3 or HubTier.S3 => 10,
        _ => 200,
    };

    /// <summary>The rate of every throttle after overrides, or what is wrong with the settings.</summary>
    internal (IReadOnlyDictionary<OperationClass, ThrottleRate> Rates, IReadOnlyList<string> Errors) Resolve()
    {
        var errors = new List<string>();
        if (Units < 1)
        {
            errors.Add($"Registry:Throttling:Units must be at least 1 (was {Units}).");
        }
        if (!Enum.IsDefined(Tier))
        {
            errors.Add($"Registry:Throttling:Tier={Tier} is not one of {string.Join(", ", Enum.GetNames<HubTier>())}: use one of them.");
        }
        else if (Units > MaxUnits(Tier))
        {
            // No such hub exists: its throttles would be ones no IoT Hub answers (a review started Free with 3 units).
            errors.Add($"Registry:Throttling:Units {Units} is more than a {Tier} hub can have ({MaxUnits(Tier)}); to raise one throttle, override it.");
        }
        var rates = new Dictionary<OperationClass, ThrottleRate>();
        if (errors.Count == 0)
        {
            try
            {
                foreach (var (operation, rate) in HubQuotas.For(Tier, Units))
                {
                    rates[operation] = rate;
                }
            }
            catch (ArgumentOutOfRangeException)
            {
                errors.Add($"Registry:Throttling:Units {Units} gives a rate above {ThrottleRate.MaxCount} per window.");
            }
        }
        foreach (var (name, text) in Overrides)
        {
            if (!name.All(char.IsAsciiLetter) || !Enum.TryParse<OperationClass>(name, ignoreCase: true, out var operation))
            {
                errors.Add($"Registry:Throttling:Overrides:{name} names no throttle; use one of {string.Join(", ", Enum.GetNames<OperationClass>())}.");
            }
            else if (!ThrottleRate.TryParse(text, out var rate))
            {
                errors.Add($"Registry:Throttling:Overrides:{name} '{text}' is not a rate like 100/min, 120/s or 2/h (1..{ThrottleRate.MaxCount} per window).");
            }
            else
            {
                rates[operation] = rate;
            }
        }
        return (rates, errors);
    }
}

/// <summary>Fails the host at start on a setting it cannot honour, instead of on the first throttled request.</summary>
internal sealed class ThrottlingOptionsValidator : IValidateOptions<ThrottlingOptions>
{
    public ValidateOptionsResult Validate(string? name, ThrottlingOptions options)
    {
        var errors = options.Resolve().Errors;
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
