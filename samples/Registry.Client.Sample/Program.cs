using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Registry.Abstractions;
using Registry.Client;

var builder = Host.CreateApplicationBuilder(args);
// Warnings and errors only (--Logging:LogLevel:Default=Information shows Orleans' start again); a failed start is said
// in one line below, not by the client's retries ("no gateway found") and the host's stack trace.
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Logging.AddFilter("Orleans.Messaging.GatewayManager", LogLevel.Error);
builder.Logging.AddFilter("Orleans.Runtime.Messaging.ConnectionManager", LogLevel.Error); // each failed connect attempt
// Its manifest refresh through a silo killed moments ago, still listed until the cluster declares it dead.
builder.Logging.AddFilter("Orleans.Runtime.ClientClusterManifestProvider", LogLevel.Error);
builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
// A setting the sample cannot use is one line and exit code 1, as the registry's own refusals are.
var portSetting = builder.Configuration["Registry:GatewayPort"] ?? "30000";
var timeoutSetting = builder.Configuration["Registry:ClusterConnectTimeoutSeconds"] ?? "30";
var responseSetting = builder.Configuration["Registry:ResponseTimeoutSeconds"] ?? "30";
if (!int.TryParse(portSetting, CultureInfo.InvariantCulture, out var gatewayPort) || gatewayPort is < 1 or > 65535)
{
    Console.Error.WriteLine($"Registry:GatewayPort={portSetting} is not a port: use 1 to 65535.");
    return 1;
}
if (!double.TryParse(timeoutSetting, NumberStyles.Float, CultureInfo.InvariantCulture, out var timeout) || !(timeout >= 0.1 && timeout <= 3600))
{
    Console.Error.WriteLine($"Registry:ClusterConnectTimeoutSeconds={timeoutSetting} must be a number of seconds from 0.1 to 3600.");
    return 1;
}
if (!double.TryParse(responseSetting, NumberStyles.Float, CultureInfo.InvariantCulture, out var response) || !(response >= 1 && response <= 600))
{
    Console.Error.WriteLine($"Registry:ResponseTimeoutSeconds={responseSetting} must be a number of seconds from 1 to 600.");
    return 1;
}
// The id is checked before connecting: an empty one crashed the sample with a stack trace (exit 134; hostile review, 2026-12-05).
var deviceId = builder.Configuration["DeviceId"] ?? "my-device";
if (!DeviceValidation.IsValidDeviceId(deviceId))
{
    Console.Error.WriteLine($"DeviceId={deviceId} is not a device id: use 1 to 128 letters, digits and -:.+%_#*?!(),=@$' or semicolon, other than . and ..");
    return 1;
}
var options = new RegistryClientOptions
{
    // The silos' own settings: without a connection string, the embedded registry on this machine (GatewayPort 30000).
    StorageConnectionString = builder.Configuration["Registry:StorageConnectionString"],
    ClusterId = builder.Configuration["Registry:ClusterId"] ?? "registry",
    ServiceId = builder.Configuration["Registry:ServiceId"] ?? "registry",
    StoragePrefix = builder.Configuration["Registry:StoragePrefix"] ?? "registry",
    GatewayPort = gatewayPort,
    // How long the first connection is retried before the one line below says what is missing (the gateway's setting).
    ConnectTimeout = TimeSpan.FromSeconds(timeout),
    // How long a call waits for its answer: the silos' own Registry:ResponseTimeoutSeconds (a call a dying silo held).
    ResponseTimeout = TimeSpan.FromSeconds(response),
    Events = false,                  // true only when the silos route a source (Registry:Routes) and you subscribe
};
builder.AddRegistryClient(options);
using var app = builder.Build();
string? missing;
// Ctrl+C or SIGTERM while it waits for the registry ends the wait (the storage check runs before the host handles them).
using (var stop = new CancellationTokenSource())
using (PosixSignalRegistration.Create(PosixSignal.SIGINT, signal => { signal.Cancel = true; stop.Cancel(); }))
using (PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal => { signal.Cancel = true; stop.Cancel(); }))
{
    try
    {
        missing = await RegistryClientStart.StartAsync(app, options, stop.Token);
    }
    catch (OperationCanceledException)
    {
        Console.Error.WriteLine("Stopped before the registry answered.");
        return 130;
    }
}
if (missing is not null)
{
    Console.Error.WriteLine(missing);    // storage or silos missing: one line saying which, exit code 1
    return 1;
}
var grains = app.Services.GetRequiredService<IClusterClient>();
var grain = grains.GetGrain<IDeviceGrain>(deviceId);
DeviceIdentity? device;
// A silo killed moments ago is still listed until the cluster declares it dead (seconds): a call the client sends
// through it is rejected unsent. A read is asked again, within the connect timeout, and then said in one line.
var readUntil = DateTime.UtcNow + options.ConnectTimeout;
while (true)
{
    try
    {
        device = await grain.Get();
        break;
    }
    catch (Exception e) when (e is OrleansMessageRejectionException or TimeoutException && DateTime.UtcNow < readUntil)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(500));
    }
    catch (Exception e) when (e is OrleansException or TimeoutException)
    {
        Console.Error.WriteLine($"The registry cluster did not answer the read: {e.Message.Split('\n')[0]}");
        return 1;
    }
}
// The etag quoted, as the ETag header carries it and If-Match takes it.
Console.WriteLine(device is null ? "not registered" : $"{device.DeviceId} etag \"{device.ETag}\"");
await app.StopAsync();
return 0;
