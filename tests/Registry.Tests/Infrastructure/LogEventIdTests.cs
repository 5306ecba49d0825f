using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Registry.Tests.Infrastructure;

/// <summary>Log lines are found by EventId in a log store, so every product log message carries its own.</summary>
public sealed class LogEventIdTests
{
    private static readonly Assembly[] Product =
    [
        typeof(Registry.Abstractions.DeviceValidation).Assembly,
        typeof(Registry.Grains.StorageNames).Assembly,
        typeof(Registry.Gateway.GatewayExtensions).Assembly,
        typeof(Registry.Host.RegistrySettings).Assembly,
    ];

    private static IEnumerable<(string Method, LoggerMessageAttribute Attribute)> LogMessages() =>
        from assembly in Product
        from type in assembly.GetTypes()
        from method in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly)
        let attribute = method.GetCustomAttribute<LoggerMessageAttribute>()
        where attribute is not null
        select ($"{type.FullName}.{method.Name}", attribute);

    [Fact]
    public void Every_product_log_message_has_an_explicit_event_id()
    {
        var messages = LogMessages().ToArray();
        Assert.NotEmpty(messages);
        Assert.Empty(messages.Where(m => m.Attribute.EventId <= 0).Select(m => m.Method));
    }

    [Fact]
    public void No_two_product_log_messages_share_an_event_id() =>
        Assert.Empty(LogMessages().GroupBy(m => m.Attribute.EventId).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Method))}"));
}
