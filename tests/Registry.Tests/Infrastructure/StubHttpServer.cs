using System.Collections.Concurrent;
using System.Net;

namespace Registry.Tests.Infrastructure;

/// <summary>
/// An HTTP server on a free loopback port that answers every request 200 with a given text body and
/// records each request as "METHOD /path": a web server on a mistyped storage port, or an OTLP collector.
/// </summary>
public sealed class StubHttpServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _serving;

    public StubHttpServer(string body = "")
    {
        Address = $"http://127.0.0.1:{FreePorts.Take(1)[0]}";
        _listener.Prefixes.Add(Address + "/");
        _listener.Start();
        var bytes = System.Text.Encoding.UTF8.GetBytes(body);
        _serving = Task.Run(async () =>
        {
            while (true)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return; // stopped
                }
                Requests.Enqueue($"{context.Request.HttpMethod} {context.Request.Url!.AbsolutePath}");
                context.Response.StatusCode = 200;
                context.Response.ContentType = "text/plain";
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
        });
    }

    /// <summary>Its base address, without a trailing slash.</summary>
    public string Address { get; }

    public ConcurrentQueue<string> Requests { get; } = new();

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _serving;
        _listener.Close();
    }
}
