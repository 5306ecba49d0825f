using System.Diagnostics.Metrics;

namespace Registry.Abstractions.Diagnostics;

/// <summary>
/// The registry's own instruments, on one process-wide meter as Orleans' own ("Microsoft.Orleans"): grains, the HTTPS
/// gateway, the MQTT edge and the throttles record where the fact happens without any service to inject, and a process
/// is one registry node, so what its exporter reads is that node's share (sum over nodes for the cluster).
/// Recording without tags, or with tags from fixed sets, allocates nothing: the heartbeat path stays allocation-free.
/// </summary>
public static class RegistryMetrics
{
    /// <summary>The meter's name, for <c>AddMeter</c> and listeners.</summary>
    public const string MeterName = "Registry.Orleans";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Devices held by the index partitions this silo hosts (the cluster's count is the sum over silos).</summary>
    public static readonly UpDownCounter<long> Devices = Meter.CreateUpDownCounter<long>(
        "registry.devices", "{device}", "Devices registered, counted by the index partitions this silo hosts.");

    /// <summary>Devices with an open MQTT session on a device grain of this silo.</summary>
    public static readonly UpDownCounter<long> ConnectedDevices = Meter.CreateUpDownCounter<long>(
        "registry.devices.connected", "{device}", "Devices connected (an open MQTT session), by the silo hosting their grain.");

    /// <summary>Heartbeats accepted by device grains: a client app's heartbeat or a device's message, each one.</summary>
    public static readonly Counter<long> Heartbeats = Meter.CreateCounter<long>(
        "registry.heartbeats", "{heartbeat}", "Heartbeats accepted by device grains (client heartbeats and device messages).");

    /// <summary>Heartbeat notifications raised by the monitor, tagged <c>alert</c> = <c>missed</c> | <c>recovered</c>.</summary>
    public static readonly Counter<long> HeartbeatAlerts = Meter.CreateCounter<long>(
        "registry.heartbeat.alerts", "{alert}", "Missed-heartbeat and recovery notifications raised by the heartbeat monitor.");

    /// <summary>
    /// Registry REST requests answered, tagged <c>http.request.method</c>, <c>http.route</c>,
    /// <c>http.response.status_code</c> and, for failures, <c>error.type</c> (IoT Hub's error code).
    /// </summary>
    public static readonly Counter<long> Operations = Meter.CreateCounter<long>(
        "registry.operations", "{operation}", "Registry REST requests answered, by route, HTTP status and IoT Hub error code.");

    /// <summary>Requests and connections refused by a throttle, tagged <c>throttle</c> (the operation class).</summary>
    public static readonly Counter<long> Throttled = Meter.CreateCounter<long>(
        "registry.throttled", "{request}", "Requests and connections refused by a throttle (429 / MQTT refusal), by throttle.");

    /// <summary>Devices a bulk job processed, tagged <c>job.type</c> (import | export), counted as its checkpoints are stored.</summary>
    public static readonly Counter<long> JobDevices = Meter.CreateCounter<long>(
        "registry.jobs.devices", "{device}", "Devices processed by import and export jobs, as their checkpoints are stored.");

    /// <summary>Jobs that ended, tagged <c>job.type</c> and <c>job.status</c> (completed | failed | cancelled).</summary>
    public static readonly Counter<long> JobsEnded = Meter.CreateCounter<long>(
        "registry.jobs.ended", "{job}", "Import and export jobs that ended, by type and final status.");

    /// <summary>
    /// Rows the group-committing Azure Table stores were asked to write, tagged <c>store</c> (<see cref="Stores"/>);
    /// with <see cref="StorageRequests"/> it gives the rows each storage request carried.
    /// </summary>
    public static readonly Counter<long> StorageWrites = Meter.CreateCounter<long>(
        "registry.storage.writes", "{row}", "Rows written through the group-committing Table stores, by store.");

    /// <summary>Storage requests (transactions and single requests) those rows took, tagged <c>store</c>.</summary>
    public static readonly Counter<long> StorageRequests = Meter.CreateCounter<long>(
        "registry.storage.requests", "{request}", "Storage requests (transactions and single requests) of the group-committing Table stores, by store.");

    /// <summary>
    /// Lifecycle notifications the event stream refused that wait in this silo to be sent again (their rows, in durable
    /// mode, in the outbox): a backlog that grows while queue storage cannot keep up.
    /// </summary>
    public static readonly UpDownCounter<long> EventsWaiting = Meter.CreateUpDownCounter<long>(
        "registry.events.waiting", "{event}", "Lifecycle notifications the event stream refused, waiting in this silo to be sent again.");

    /// <summary>Events the event stream took from this silo, tagged <c>source</c> (the route source).</summary>
    public static readonly Counter<long> EventsPublished = Meter.CreateCounter<long>(
        "registry.events.published", "{event}", "Events (lifecycle notifications, heartbeat alerts) the event stream took from this silo, by source.");

    /// <summary>Values of the <c>store</c> tag.</summary>
    public static class Stores
    {
        public const string DeviceRows = "device-rows";
        public const string Index = "index";
    }

    /// <summary>Tag names, shared by the recorders and the tests.</summary>
    public static class Tags
    {
        public const string Alert = "alert";
        public const string Source = "source";
        public const string Store = "store";
        public const string Throttle = "throttle";
        public const string JobType = "job.type";
        public const string JobStatus = "job.status";
        public const string Method = "http.request.method";
        public const string Route = "http.route";
        public const string Status = "http.response.status_code";
        public const string Error = "error.type";
    }
}
