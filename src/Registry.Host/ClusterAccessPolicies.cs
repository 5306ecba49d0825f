using Registry.Abstractions;
using Registry.Gateway.Security;
using Registry.Grains;

namespace Registry.Host;

/// <summary>
/// The shared access policies of a durable registry's edge, read from the cluster's storage (<see cref="IAccessPolicyGrain"/>)
/// rather than from a file of the host: every gateway of a cluster accepts the same keys, and a key regenerated through
/// any of them (or a client app) is honoured by all within <see cref="RegistrySettings.AccessPolicyRefreshSeconds"/>.
/// The first edge to start on fresh storage proposes the policies: those of an <c>access-policies.json</c> left in its
/// data folder by an earlier single-host start (so connection strings handed out stay valid), else fresh defaults,
/// with policies pinned under <c>Registry:AccessPolicies</c> replacing them by name: a pin becomes the cluster's key.
/// On storage that holds policies already, a pin that differs from the stored policy stops the start: a key honoured
/// by one gateway and refused by the next (a pin winning in its own process only) was the other choice, and hid the
/// cluster's key from whoever held the pinned one.
/// </summary>
internal sealed partial class ClusterAccessPolicies(
    IGrainFactory grains,
    SharedAccessPolicies policies,
    IReadOnlyList<SharedAccessPolicy> pinned,
    SharedAccessPolicies? fromFile,
    RegistrySettings settings,
    TimeProvider clock,
    ILogger<ClusterAccessPolicies> logger,
    TimeSpan? firstRetryPause = null) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _refresh = Task.CompletedTask;
    private long _version;

    /// <summary>Registers the policies (pinned ones only until the start reads the cluster's) and their refresh.</summary>
    public static AccessPolicyLoad Register(IServiceCollection services, string dataFolder, RegistrySettings settings)
    {
        var pinned = settings.AccessPolicies.Select(p =>
        {
            try
            {
                return p.Value.ToPolicy(p.Key);
            }
            catch (ArgumentException e)
            {
                throw new RegistryStartupException($"Registry:AccessPolicies:{p.Key} is not usable: {AccessPolicyStore.Sentence(e)} Nothing was started.", e);
            }
        }).ToArray();
        var path = Path.Combine(dataFolder, AccessPolicyStore.FileName);
        var fromFile = File.Exists(path) ? AccessPolicyStore.Read(path) : null;
        var policies = new SharedAccessPolicies(pinned);
        services.AddSingleton(sp => new ClusterAccessPolicies(
            sp.GetRequiredService<IGrainFactory>(), policies, pinned, fromFile, settings,
            sp.GetRequiredKeyedService<TimeProvider>(RegistryClock.Key), sp.GetRequiredService<ILogger<ClusterAccessPolicies>>()));
        // After the silo or the cluster client (registered before): the edge serves once the cluster's keys are in.
        services.AddHostedService(sp => sp.GetRequiredService<ClusterAccessPolicies>());
        return new AccessPolicyLoad(policies, null, path, false);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var proposed = fromFile ?? SharedAccessPolicies.GenerateDefaults();
        var stored = await InitializeStore(ToSet(proposed, pinned), cancellationToken);
        foreach (var pin in pinned)
        {
            if (!stored.Policies.Any(p => p.KeyName == pin.KeyName))
            {
                // The cluster's policies are set by its first start (pins included); a later pin cannot add one.
                throw new RegistryStartupException($"Registry:AccessPolicies:{pin.KeyName} names a policy the cluster does not store " +
                    $"(it stores {string.Join(", ", stored.Policies.Select(p => p.KeyName).Order(StringComparer.Ordinal))}; table " +
                    $"{settings.StoragePrefix}Access): a cluster's policies are the ones its first start stored, so remove the pin. Nothing was served.");
            }
            if (!Agrees(stored, pin))
            {
                throw new RegistryStartupException($"Registry:AccessPolicies:{pin.KeyName} differs from the key the cluster stores for " +
                    $"'{pin.KeyName}' (one set of keys per cluster, table {settings.StoragePrefix}Access): remove the pin to use the cluster's key, " +
                    "or pin the cluster's key (IAccessPolicyGrain.Get() from a client app). Nothing was served.");
            }
        }
        Apply(stored);
        if (fromFile is null && proposed.TryGet(SharedAccessPolicy.OwnerKeyName, out var owner)
            && stored.Policies.Any(p => p.KeyName == owner.KeyName && p.PrimaryKey == owner.PrimaryKey)
            && !pinned.Any(p => p.KeyName == owner.KeyName))
        {
            LogGeneratedOwner(logger, owner.ConnectionString(settings.HostName));
        }
        _refresh = RefreshAsync(_stopping.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _refresh.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose() => _stopping.Dispose();

    private IAccessPolicyGrain Store => grains.GetGrain<IAccessPolicyGrain>(0);

    /// <summary>
    /// The cluster's policies, asked again while storage does not answer in time (<see cref="StartRetry"/>): a restart
    /// after a <c>kill -9</c> met one Azurite stall here and ended, leaving the killed silo's outbox unswept until started
    /// by hand (a review, 2026-12-07).
    /// </summary>
    private Task<AccessPolicySet> InitializeStore(AccessPolicySet proposed, CancellationToken cancellationToken) =>
        StartRetry.Run(() => Store.Initialize(proposed), (attempt, attempts, reason) => LogStartRetried(logger, attempt, attempts, reason),
            firstRetryPause, cancellationToken);

    private async Task RefreshAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(settings.AccessPolicyRefreshInterval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    if (await Store.Get() is { } stored && stored.Version != Volatile.Read(ref _version))
                    {
                        Apply(stored);
                        LogRefreshed(logger, stored.Version);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The keys held stay in force: a cluster briefly away must not lock every caller out.
                    LogRefreshFailed(logger, e.GetType().Name, e.Message.Split('\n', 2)[0].Trim());
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private void Apply(AccessPolicySet stored)
    {
        // The stored policies alone: pins agreed with them at the start, and a regeneration since applies here too.
        policies.Replace(stored.Policies
            .Select(p => new SharedAccessPolicy(p.KeyName, p.PrimaryKey, p.SecondaryKey, AccessPolicyStore.ParseRights(p.KeyName, p.Rights))));
        Volatile.Write(ref _version, stored.Version);
    }

    private static AccessPolicySet ToSet(SharedAccessPolicies proposed, IReadOnlyList<SharedAccessPolicy> pinned)
    {
        var byName = proposed.All.ToDictionary(p => p.KeyName, StringComparer.Ordinal);
        foreach (var pin in pinned)
        {
            byName[pin.KeyName] = pin;
        }
        return new(byName.Values.Select(p => new AccessPolicyRecord(p.KeyName, p.PrimaryKey, p.SecondaryKey, SharedAccessPolicy.FormatRights(p.Rights))).ToArray(), 0);
    }

    /// <summary>The stored policy of the pin's name has its primary key, its rights and (when pinned) its secondary key.</summary>
    private static bool Agrees(AccessPolicySet stored, SharedAccessPolicy pin) =>
        stored.Policies.FirstOrDefault(p => p.KeyName == pin.KeyName) is { } policy
        && policy.PrimaryKey == pin.PrimaryKey
        && (pin.SecondaryKey is null || policy.SecondaryKey == pin.SecondaryKey)
        && AccessPolicyStore.ParseRights(policy.KeyName, policy.Rights) == pin.Rights;

    [LoggerMessage(EventId = 4021, Level = LogLevel.Warning, Message = "Generated shared access policies in the cluster's storage. Owner connection string, shown only this once: {ConnectionString}")]
    private static partial void LogGeneratedOwner(ILogger logger, string connectionString);

    [LoggerMessage(EventId = 4022, Level = LogLevel.Information, Message = "Shared access policies changed in the cluster's storage (version {Version}): now in force here")]
    private static partial void LogRefreshed(ILogger logger, long version);

    [LoggerMessage(EventId = 4024, Level = LogLevel.Warning, Message = "Storage was slow reading the cluster's shared access policies while the registry started (try {Attempt} of {Attempts}); asking again: {Reason}")]
    private static partial void LogStartRetried(ILogger logger, int attempt, int attempts, string reason);

    /// <summary>One line: the cluster or its storage away for a while (the usual cause) logged a stack per refresh.</summary>
    [LoggerMessage(EventId = 4023, Level = LogLevel.Warning, Message = "Could not read the cluster's shared access policies; the ones held stay in force ({Type}: {Reason})")]
    private static partial void LogRefreshFailed(ILogger logger, string type, string reason);
}
