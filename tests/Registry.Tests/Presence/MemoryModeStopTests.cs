using System.Net;
using Microsoft.Extensions.Logging;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Presence;

/// <summary>
/// A clean stop of the embedded (memory) mode right after device activity. Its presence store lives in the silo's own
/// grains, gone with the process, so there is nothing to write at the stop; a hostile review (2026-12-05) saw the stop
/// try anyway and log <c>fail:</c> lines (placement of the store's grain on a stopping silo) and the writer's warning.
/// </summary>
public sealed class MemoryModeStopTests
{
    [Fact]
    public async Task A_clean_stop_right_after_device_activity_logs_no_error_and_no_presence_write_warning()
    {
        var logs = new CapturedLogs();
        var host = await RegistryTestHost.StartAsync(configure: builder => builder.Logging.AddProvider(logs));
        await using (host)
        {
            using var owner = host.CreateClient();
            var key = (string)(await owner.CreateDeviceAsync("stopper"))["authentication"]!["symmetricKey"]!["primaryKey"]!;
            using var device = host.CreateDeviceClient("stopper", key);
            using var sent = await device.PostAsync($"devices/stopper/messages/events?{ApiVersion}", new StringContent("{}"));
            Assert.Equal(HttpStatusCode.NoContent, sent.StatusCode);
        }

        var noisy = logs.Lines.Where(l => l.Level >= LogLevel.Error || l.Category.Contains("PresenceWriter", StringComparison.Ordinal)).ToList();
        Assert.True(noisy.Count == 0, string.Join("\n", noisy.Select(l => $"{l.Level} {l.Category}: {l.Text}")));
    }
}
