using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

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

    public HubThrottle(IOptions<ThrottlingOptions> options, TimeProvider clock, ILogger<HubThrottle> logger)
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
        if (count > bucket.Rate.Count)
        {
            return new ThrottleDecision(false, bucket.Rate.Window);
        }
        using var lease = bucket.AttemptAcquire(count);
        if (lease.IsAcquired)
        {
            return ThrottleDecision.Acquired;
        }
        return new ThrottleDecision(false, lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : bucket.Rate.Window);
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Throttling as an IoT Hub {Tier} with {Units} unit(s): {Rates}")]
    private static partial void LogEnabled(ILogger logger, HubTier tier, int units, string rates);
}
