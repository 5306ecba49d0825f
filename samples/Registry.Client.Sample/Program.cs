using Microsoft.Extensions.Configuration;
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
builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
var options = new RegistryClientOptions
{
    // The silos' own settings: without a connection string, the embedded registry on this machine (GatewayPort 30000).
    StorageConnectionString = builder.Configuration["Registry:StorageConnectionString"],
    ClusterId = builder.Configuration["Registry:ClusterId"] ?? "registry",
    ServiceId = builder.Configuration["Registry:ServiceId"] ?? "registry",
    StoragePrefix = builder.Configuration["Registry:StoragePrefix"] ?? "registry",
    GatewayPort = builder.Configuration.GetValue("Registry:GatewayPort", 30000),
    // How long the first connection is retried before the one line below says what is missing (the gateway's setting).
    ConnectTimeout = TimeSpan.FromSeconds(builder.Configuration.GetValue("Registry:ClusterConnectTimeoutSeconds", 30.0)),
    Events = false,                  // true only when the silos route a source (Registry:Routes) and you subscribe
};
builder.AddRegistryClient(options);
using var app = builder.Build();
if (await RegistryClientStart.StartAsync(app, options) is { } missing)
{
    Console.Error.WriteLine(missing);    // storage or silos missing: one line saying which, exit code 1
    return 1;
}
var grains = app.Services.GetRequiredService<IClusterClient>();
var device = await grains.GetGrain<IDeviceGrain>(builder.Configuration["DeviceId"] ?? "my-device").Get();
// The etag quoted, as the ETag header carries it and If-Match takes it.
Console.WriteLine(device is null ? "not registered" : $"{device.DeviceId} etag \"{device.ETag}\"");
await app.StopAsync();
return 0;
