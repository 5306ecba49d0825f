using Orleans.Concurrency;
using Registry.Abstractions;

namespace Registry.Grains.Devices;

/// <summary>Fans a batch of heartbeats out to the device grains from the caller's silo (<see cref="IHeartbeatBatchGrain"/>).</summary>
[StatelessWorker]
public sealed class HeartbeatBatchGrain : Grain, IHeartbeatBatchGrain
{
    public async Task<DeviceAccess[]> Heartbeat(IReadOnlyList<string> deviceIds)
    {
        if (deviceIds.Count > RegistryLimits.MaxHeartbeatBatch)
        {
            throw RegistryException.Invalid($"A heartbeat batch holds at most {RegistryLimits.MaxHeartbeatBatch} device ids; this one has {deviceIds.Count}.");
        }
        var calls = new Task<DeviceAccess>[deviceIds.Count];
        for (var i = 0; i < calls.Length; i++)
        {
            calls[i] = GrainReferences<IDeviceGrain>.Get(GrainFactory, deviceIds[i]).Heartbeat();
        }
        return await Task.WhenAll(calls);
    }
}
