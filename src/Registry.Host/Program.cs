using Microsoft.Extensions.Options;
using Registry.Grains.Index;
using Registry.Host;

try
{
    await RegistryHost.Build(args).RunAsync();
    return 0;
}
catch (Exception e) when (Refusal(e) is { } refusal)
{
    // A refused start is an operator's mistake, not a crash: the message alone says what to do.
    await Console.Error.WriteLineAsync(refusal);
    return 1;
}

// Refusals raised inside the host's start (the silo's layout check, options validated on start) arrive wrapped.
static string? Refusal(Exception? e) => e switch
{
    null => null,
    RegistryStartupException or IndexLayoutMismatchException => e.Message,
    OptionsValidationException options => $"Invalid configuration, nothing was started: {string.Join(" ", options.Failures)}",
    AggregateException all => all.InnerExceptions.Select(Refusal).FirstOrDefault(m => m is not null),
    _ => Refusal(e.InnerException),
};
