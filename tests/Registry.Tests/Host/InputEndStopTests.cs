using Registry.Tests.Infrastructure;

namespace Registry.Tests.Host;

/// <summary>
/// <c>Registry:StopWhenInputEnds</c>: a registry started by a parent that holds its standard input stops when that input
/// ends, as it does when the parent dies, even by kill -9 (the load harness's registries were left running so before).
/// </summary>
public sealed class InputEndStopTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_registry_told_to_stop_when_its_input_ends_stops_then_and_exits_cleanly()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-input-").FullName;
        await using var host = RegistryProcess.Start(work,
            [.. SecondStartTests.Arguments(Path.Combine(work, "data"), FreePorts.Take(3)), "--Registry:StopWhenInputEnds=true"]);
        await host.WaitUntilListeningAsync(ct);

        host.CloseInput();

        Assert.Equal(0, await host.WaitForExitAsync(ct));
        Assert.Contains("Standard input ended (Registry:StopWhenInputEnds): stopping the registry", host.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task Without_the_setting_a_registry_whose_input_ends_keeps_serving()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-input-").FullName;
        await using var host = RegistryProcess.Start(work, SecondStartTests.Arguments(Path.Combine(work, "data"), FreePorts.Take(3)));
        await host.WaitUntilListeningAsync(ct);

        host.CloseInput();

        // Still serving: a second start on its data folder is refused for it.
        await using var second = RegistryProcess.Start(work, SecondStartTests.Arguments(Path.Combine(work, "data"), FreePorts.Take(3)));
        Assert.Equal(1, await SecondStartTests.ExitCodeUnlessListening(second, ct));
        Assert.DoesNotContain("Standard input ended", host.Output, StringComparison.Ordinal);
    }
}
