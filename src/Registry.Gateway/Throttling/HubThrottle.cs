using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;

namespace Registry.Gateway.Throttling;

/// <summary>
/// <see cref="IThrottle"/> as one <see cref="TokenBucket"/> per throttle, held by this gateway process. IoT Hub's
/// quotas are per hub; a cluster of several gateways enforces them per gateway (each admits the full rate), which
/// stays exact for the one-process default. Give each gateway its share with <c>Units</c> or overrides to keep a
/// cluster within one hub's limits.
/// </summary>
internal sealed partial class HubThrottle : IThrottle
{
    private readonly Dictionary<OperationClass, TokenBucket> _buckets = [];

    public HubThrottle(IOptions<ThrottlingOptions> options, [FromKeyedServices(RegistryClock.Key)] TimeProvider clock, ILogger<HubThrottle> logger)
    {
        var settings = options.Value;
        var (rates, errors) = settings.Resolve();
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(ThrottlingOptions.Section, typeof(ThrottlingOptions), errors);
        }
        Rates = rates;
        IsEnabled = settings.Enabled;
        if (!IsEnabled)
        {
            return;
        }
        foreach (var (operation, rate) in rates)
        {
            _buckets[operation] = new TokenBucket(rate, clock);
        }
        LogEnabled(logger, settings.Tier, settings.Units, string.Join(", ", rates.Select(r => $"{r.Key} {r.Value}")));
    }

    public bool IsEnabled { get; }

    public IReadOnlyDictionary<OperationClass, ThrottleRate> Rates { get; }

    public ThrottleDecision TryAcquire(OperationClass operation) => TryAcquire(operation, 1);

    public ThrottleDecision TryAcquire(OperationClass operation, int count)
    {
        if (!_buckets.TryGetValue(operation, out var bucket))
        {
            return ThrottleDecision.Acquired;
        }
        using var lease = bucket.AttemptAcquire(count);
        if (lease.IsAcquired)
        {
            return ThrottleDecision.Acquired;
        }
        return Refused(operation, lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : bucket.Rate.Window);
    }

    /// <summary>Every refusal of every edge (HTTPS, MQTT) passes here: the one place that counts them.</summary>
    private static ThrottleDecision Refused(OperationClass operation, TimeSpan retryAfter)
    {
        RegistryMetrics.Throttled.Add(1, ThrottleTags[(int)operation]);
        return new ThrottleDecision(false, retryAfter);
    }

    /// <summary>One tag per throttle, made once: a refusal under load allocates nothing to be counted.</summary>
    private static readonly KeyValuePair<string, object?>[] ThrottleTags = Enum.GetValues<OperationClass>()
        .OrderBy(o => (int)o)
        .Select(o => new KeyValuePair<string, object?>(RegistryMetrics.Tags.Throttle, o.ToString()))
        .ToArray();

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Throttling as an IoT Hub {Tier} with {Units} unit(s): {Rates}")]
    private static partial void LogEnabled(ILogger logger, HubTier tier, int units, string rates);
}
