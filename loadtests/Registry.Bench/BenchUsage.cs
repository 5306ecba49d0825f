namespace Registry.Bench;

/// <summary>What <c>--help</c> prints, and a failure said in one line.</summary>
internal static class BenchUsage
{
    public const string Text = """
        Registry.Bench: the registry's benchmarks, each beside its ceiling measured in the same run (README "Measuring").

          Registry.Bench [--storage CONNECTION-STRING] [--rounds 3] [--seconds 8] [--concurrency 32] [--devices 2000]
                         [--partitions 256] [--no-auth] [--set Key=Value ...] [--azurite-pid PID]
              GET and create over HTTPS against a no-op Kestrel endpoint and, with --storage, raw Azure Table inserts
              (loadtests/bench-registry.sh starts an Azurite and passes --storage and --azurite-pid).
          Registry.Bench scale [--mode memory|durable] [--devices 1000000] [--step 100000] [--fill bulk|import] ...
              fills one registry step by step (loadtests/bench-scale.sh).
          Registry.Bench heartbeat [--devices N] [--https-devices N] [--rounds 3] [--seconds 8] [--only noop|single|batch] ...
              heartbeats through the grain interface and HTTPS against a no-op grain call and a no-op endpoint.
          Registry.Bench mqtt [--connections 10000] [--rounds 3] [--seconds 8] [--rate 5000] [--client-gc server|workstation]
              the registry's MQTT edge against a bare MQTTnet broker.
          Registry.Bench jobs [--devices 100000] [--rounds 1] [--ceiling-parallelism 16] [--job-minutes 30] [--host PATH] [--set Key=Value ...]
              import and export jobs against storage's own insert, scan and upload.
          Registry.Bench monitor-cost [--devices 1000000] [--partitions 256] [--rounds 3]
              the heartbeat monitor's memory and writes at a million watched devices.

        An unknown command or option, or a value out of range, is refused in one line with exit code 2. Ctrl+C or SIGTERM
        ends a run at its next phase with what it measured; a second signal aborts at once. The load harness with
        scenarios, models and plots is loadtests/Registry.LoadTests (loadtests/README.md).
        """;

    /// <summary>The exception's type and message, and its inner exceptions' messages, in one line.</summary>
    public static string Describe(Exception e)
    {
        var parts = new List<string> { $"{e.GetType().Name}: {e.Message}" };
        for (var inner = e.InnerException; inner is not null && parts.Count < 4; inner = inner.InnerException)
        {
            parts.Add(inner.Message);
        }
        return string.Join(" <- ", parts).ReplaceLineEndings(" ");
    }
}
