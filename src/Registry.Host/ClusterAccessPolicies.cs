using Registry.Abstractions;
using Registry.Gateway.Security;

namespace Registry.Host;

/// <summary>
/// The shared access policies of a durable registry's edge, read from the cluster's storage (<see cref="IAccessPolicyGrain"/>)
/// rather than from a file of the host: every gateway of a cluster accepts the same keys, and a key regenerated through
/// any of them (or a client app) is honoured by all within <see cref="RegistrySettings.AccessPolicyRefreshSeconds"/>.
/// The first edge to start on fresh storage proposes the policies: those of an <c>access-policies.json</c> left in its
/// data folder by an earlier single-host start (so connection strings handed out stay valid), else fresh defaults.
/// Policies pinned under <c>Registry:AccessPolicies</c> still win by name, in this process only.
/// </summary>
internal sealed partial class ClusterAccessPolicies(
    IGrainFactory grains,
    SharedAccessPolicies policies,
    IReadOnlyList<SharedAccessPolicy> pinned,
    SharedAccessPolicies? fromFile,
    RegistrySettings settings,
    TimeProvider clock,
    ILogger<ClusterAccessPolicies> logger) : IHostedService, IDisposable
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
                throw new RegistryStartupException($"Registry:AccessPolicies:{p.Key} is not usable: {e.Message} Nothing was started.", e);
            }
        }).ToArray();
        var path = Path.Combine(dataFolder, AccessPolicyStore.FileName);
        var fromFile = File.Exists(path) ? AccessPolicyStore.Read(path) : null;
        var policies = new SharedAccessPolicies(pinned);
        services.AddSingleton(sp => new ClusterAccessPolicies(
            sp.GetRequiredService<IGrainFactory>(), policies, pinned, fromFile, settings,
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ClusterAccessPolicies>>()));
        // After the silo or the cluster client (registered before): the edge serves once the cluster's keys are in.
        services.AddHostedService(sp => sp.GetRequiredService<ClusterAccessPolicies>());
        return new AccessPolicyLoad(policies, null, path, false);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var proposed = fromFile ?? SharedAccessPolicies.GenerateDefaults();
        var stored = await Store.Initialize(ToSet(proposed)).WaitAsync(cancellationToken);
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
                    LogRefreshFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private void Apply(AccessPolicySet stored)
    {
        var byName = stored.Policies
            .Select(p => new SharedAccessPolicy(p.KeyName, p.PrimaryKey, p.SecondaryKey, AccessPolicyStore.ParseRights(p.KeyName, p.Rights)))
            .ToDictionary(p => p.KeyName, StringComparer.Ordinal);
        foreach (var policy in pinned)
        {
            byName[policy.KeyName] = policy;
        }
        policies.Replace(byName.Values);
        Volatile.Write(ref _version, stored.Version);
    }

    private static AccessPolicySet ToSet(SharedAccessPolicies proposed) =>
        new(proposed.All.Select(p => new AccessPolicyRecord(p.KeyName, p.PrimaryKey, p.SecondaryKey, SharedAccessPolicy.FormatRights(p.Rights))).ToArray(), 0);

    [LoggerMessage(EventId = 4021, Level = LogLevel.Warning, Message = "Generated shared access policies in the cluster's storage. Owner connection string, shown only this once: {ConnectionString}")]
    private static partial void LogGeneratedOwner(ILogger logger, string connectionString);

    [LoggerMessage(EventId = 4022, Level = LogLevel.Information, Message = "Shared access policies changed in the cluster's storage (version {Version}): now in force here")]
    private static partial void LogRefreshed(ILogger logger, long version);

    [LoggerMessage(EventId = 4023, Level = LogLevel.Warning, Message = "Could not read the cluster's shared access policies; the ones held stay in force")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
