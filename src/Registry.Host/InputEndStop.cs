namespace Registry.Host;

/// <summary>
/// <c>Registry:StopWhenInputEnds</c>: reads standard input to its end on a thread of its own, then stops the host as
/// SIGTERM would. A parent that starts the registry with its input on a pipe (the load harness) and then dies, even by
/// kill -9, closes that pipe, so the registry stops too instead of running on, orphaned, with its ports and data folder.
/// Watched from before the host starts (<see cref="RegistryHost.RunToExitAsync"/>): a start that waits (storage that
/// went with the parent) is stopped too, as an early SIGTERM stops it.
/// </summary>
public static partial class InputEndStop
{
    public static void Watch(IHostApplicationLifetime lifetime, ILogger logger)
    {
        // Console input has no cancellable read: a background thread blocks on it and never holds the process up.
        var reader = new Thread(() => ReadToEnd(lifetime, logger)) { IsBackground = true, Name = "stop-when-input-ends" };
        reader.Start();
    }

    private static void ReadToEnd(IHostApplicationLifetime lifetime, ILogger logger)
    {
        try
        {
            using var input = Console.OpenStandardInput();
            var buffer = new byte[256];
            while (input.Read(buffer, 0, buffer.Length) > 0)
            {
                // What is written is ignored: only the end counts.
            }
        }
        catch (IOException)
        {
            // An input that fails is as gone as one that ended.
        }
        LogInputEnded(logger);
        lifetime.StopApplication();
    }

    [LoggerMessage(EventId = 1090, Level = LogLevel.Warning, Message = "Standard input ended (Registry:StopWhenInputEnds): stopping the registry")]
    private static partial void LogInputEnded(ILogger logger);
}
