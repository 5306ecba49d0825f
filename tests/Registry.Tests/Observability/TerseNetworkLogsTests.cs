using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Observability;

/// <summary>
/// A silo killed with <c>kill -9</c> made each survivor's console print a stack per connection retry (a review counted
/// 2,493 lines in one survivor; an idle three-silo cluster, 262 lines in 90 s, 40 with this). Orleans' and Polly's
/// entries about a failed connection are said in one entry without the stack; everything else keeps it.
/// </summary>
public sealed class TerseNetworkLogsTests
{
    private readonly CapturedLogs _console = new();

    private ILogger Logger(string category) => new TerseNetworkLogs(_console).CreateLogger(category);

    private static Exception Thrown(Func<Exception> make)
    {
        try
        {
            throw make();
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private static Exception ConnectionRefused() => Thrown(() => new SiloUnavailableException(
        "Exception while sending message: Unable to connect to S127.0.0.1:24112:155689480",
        Thrown(() => new SocketException((int)SocketError.ConnectionRefused))));

    [Fact]
    public void An_orleans_entry_about_a_failed_connection_is_its_message_and_the_exceptions_text_without_a_stack()
    {
        var exception = ConnectionRefused();
        Assert.Contains(" at ", exception.ToString(), StringComparison.Ordinal); // it has a stack to leave out

        Logger("Orleans.Runtime.Messaging.ConnectionManager").LogWarning(exception, "Connection attempt to endpoint {Endpoint} failed", "S127.0.0.1:24112:155689480");

        var (level, _, text) = Assert.Single(_console.Lines);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Equal("Connection attempt to endpoint S127.0.0.1:24112:155689480 failed (Orleans.Runtime.SiloUnavailableException: " +
            "Exception while sending message: Unable to connect to S127.0.0.1:24112:155689480)", text);
    }

    [Fact]
    public void A_polly_entry_whose_text_carries_the_stack_loses_the_frames_and_keeps_the_rest_of_its_text()
    {
        var exception = ConnectionRefused();
        var frames = string.Join("\n", exception.StackTrace!.Split('\n').Take(2));

        Logger("Polly").LogWarning(exception, "Execution attempt. Result: '{Result}', Handled: '{Handled}'", exception.Message + "\n" + frames, true);

        var (_, _, text) = Assert.Single(_console.Lines);
        Assert.DoesNotContain("\n", text, StringComparison.Ordinal);
        Assert.StartsWith("Execution attempt. Result: 'Exception while sending message: Unable to connect to S127.0.0.1:24112:155689480', Handled: 'True' (", text, StringComparison.Ordinal);
    }

    [Fact]
    public void An_orleans_message_that_names_a_failed_connection_in_its_own_text_loses_the_stack_in_it()
    {
        Logger("Orleans.Runtime.MembershipService.SiloHealthMonitor").LogWarning(
            "Indirect probe failed. Failure message: Orleans.Runtime.Messaging.ConnectionFailedException: Unable to connect\n" +
            "   at Orleans.Runtime.Messaging.ConnectionManager.ConnectAsync(SiloAddress address) in /_/ConnectionManager.cs:line 296\n" +
            "      --- End of stack trace from previous location ---\n" +
            "   at Orleans.Runtime.MembershipService.MembershipSystemTarget.ProbeIndirectly() in /_/MembershipSystemTarget.cs:line 110. Intermediary health score: 0.");

        var (_, _, text) = Assert.Single(_console.Lines);
        Assert.Equal("Indirect probe failed. Failure message: Orleans.Runtime.Messaging.ConnectionFailedException: Unable to connect", text);
    }

    [Theory]
    [InlineData("Orleans.Runtime.Catalog", false)] // Orleans, but not a failed connection
    [InlineData("Registry.Grains.Devices.DeviceGrain", true)] // a failed connection, but the registry's own entry
    public void Any_other_entry_keeps_its_exception_and_stack(string category, bool connectionFailure)
    {
        var exception = connectionFailure ? ConnectionRefused() : Thrown(() => new InvalidOperationException("broken"));

        Logger(category).LogError(exception, "Something failed");

        var (_, _, text) = Assert.Single(_console.Lines);
        Assert.StartsWith("Something failed " + exception.GetType().FullName, text, StringComparison.Ordinal);
        Assert.Contains(exception.StackTrace!.Split('\n')[0].Trim(), text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_host_builders_console_provider_is_replaced_by_the_terse_one_and_no_other_provider_is()
    {
        var builder = WebApplication.CreateBuilder();
        var others = builder.Services.Count(d => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType != typeof(ConsoleLoggerProvider));

        TerseNetworkLogs.Apply(builder.Services);

        using var services = builder.Services.BuildServiceProvider();
        var providers = services.GetServices<ILoggerProvider>().ToArray();
        Assert.Single(providers.OfType<TerseNetworkLogs>());
        Assert.Empty(providers.OfType<ConsoleLoggerProvider>());
        Assert.Equal(others + 1, providers.Length);
    }
}
