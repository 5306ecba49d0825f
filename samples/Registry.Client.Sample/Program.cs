using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Registry.Abstractions;
using Registry.Client;

var builder = Host.CreateApplicationBuilder(args);
builder.AddRegistryClient(o =>
{
    // The silos' own settings: without a connection string, the embedded registry on this machine (GatewayPort 30000).
    o.StorageConnectionString = builder.Configuration["Registry:StorageConnectionString"];
    o.ClusterId = builder.Configuration["Registry:ClusterId"] ?? "registry";
    o.ServiceId = builder.Configuration["Registry:ServiceId"] ?? "registry";
    o.StoragePrefix = builder.Configuration["Registry:StoragePrefix"] ?? "registry";
    o.Events = false;                // true only when the silos route a source (Registry:Routes) and you subscribe
});
using var app = builder.Build();
await app.StartAsync();
var grains = app.Services.GetRequiredService<IClusterClient>();
var device = await grains.GetGrain<IDeviceGrain>(builder.Configuration["DeviceId"] ?? "my-device").Get();
Console.WriteLine(device is null ? "not registered" : $"{device.DeviceId} etag {device.ETag}");
await app.StopAsync();
