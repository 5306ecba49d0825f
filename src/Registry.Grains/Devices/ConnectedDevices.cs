using Microsoft.Extensions.DependencyInjection;
using Registry.Abstractions;
using Registry.Abstractions.Diagnostics;

namespace Registry.Grains.Devices;

/// <summary>
/// The devices whose grain on this silo holds an open MQTT session (connectionState Connected), kept exactly by the
/// grains' own transitions, and reported as a count to the <see cref="IConnectedDeviceCountGrain"/>. A transition
/// completes once a report that includes it was acknowledged, so the cluster's count is exact when no transition is in
/// flight. Reports are coalesced: at most one in flight per silo, carrying the latest count. Every
/// <see cref="RefreshInterval"/> the silo reports again, so a count grain that moved after its silo died has every live
/// silo's count back within that interval.
/// </summary>
public sealed class ConnectedDevices(IGrainFactory grains, ILocalSiloDetails silo, [FromKeyedServices(RegistryClock.Key)] TimeProvider clock)
    : SiloLoop(ServiceLifecycleStage.Active)
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(10);

    private readonly HashSet<string> _connected = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _reporting = new(1, 1);
    private long _version;
    private long _reported;

    /// <summary>Reports this silo's count every <see cref="RefreshInterval"/>.</summary>
    protected override async Task Run(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(RefreshInterval, clock, stopping);
                // A report in flight does not hold the stop (the count grain may be on a silo that is gone).
                await ReportNowAsync().WaitAsync(stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception)
            {
                // The count grain is unreachable for now (a silo failing over): the next round reports again.
            }
        }
    }

    /// <summary>Devices connected through this silo's grains now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _connected.Count;
            }
        }
    }

    /// <summary>Reports this silo's count whether or not it changed (what the refresh does every interval).</summary>
    public Task ReportNowAsync() => Report(force: true);

    public Task Add(string deviceId) => Change(deviceId, connected: true);

    /// <summary>Removes without reporting: the silo is leaving, and the count grain drops a silo that left.</summary>
    public void Forget(string deviceId)
    {
        lock (_lock)
        {
            if (_connected.Remove(deviceId))
            {
                RegistryMetrics.ConnectedDevices.Add(-1);
            }
        }
    }

    public Task Remove(string deviceId) => Change(deviceId, connected: false);

    private async Task Change(string deviceId, bool connected)
    {
        long version;
        lock (_lock)
        {
            if (!(connected ? _connected.Add(deviceId) : _connected.Remove(deviceId)))
            {
                return;
            }
            version = ++_version;
        }
        RegistryMetrics.ConnectedDevices.Add(connected ? 1 : -1);
        try
        {
            await Report(force: false, version);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The set is exact; the count grain is away (failing over). The refresh reports it: a device never fails to
            // connect or disconnect because statistics cannot be told.
        }
    }

    private async Task Report(bool force, long version = 0)
    {
        await _reporting.WaitAsync();
        try
        {
            if (!force && Interlocked.Read(ref _reported) >= version)
            {
                return; // a report made while this one waited carried this change
            }
            long latest;
            int count;
            lock (_lock)
            {
                (latest, count) = (_version, _connected.Count);
            }
            await grains.GetGrain<IConnectedDeviceCountGrain>(0).Report(silo.SiloAddress, latest, count);
            Interlocked.Exchange(ref _reported, latest);
        }
        finally
        {
            _reporting.Release();
        }
    }
}
