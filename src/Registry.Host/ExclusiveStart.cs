using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Registry.Host;

/// <summary>
/// What a registry claims before it joins a cluster, so that a second copy started by mistake fails at once and
/// leaves the running one alone. Orleans listens with address reuse, so a second silo on the same endpoint would
/// bind without error, join, and have the running silo declared dead; a plain bind here refuses instead.
/// </summary>
public static class ExclusiveStart
{
    public const string LockFileName = "registry.lock";

    /// <summary>
    /// Locks <paramref name="dataFolder"/> for the life of the returned handle (the process, when the host holds it):
    /// one registry per data folder, since its certificates and keys are read and written without coordination.
    /// Creates the folder and its lock file when missing, so it is taken once the start is known to go ahead
    /// (<see cref="LockDataFolderIfPresent"/> before that); the lock file is never deleted, as a start that opened it
    /// just before the deletion would lock a file nobody else sees.
    /// </summary>
    public static IDisposable LockDataFolder(string dataFolder)
    {
        try
        {
            Directory.CreateDirectory(dataFolder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unusable(dataFolder, e);
        }
        return Lock(dataFolder, FileMode.OpenOrCreate)!;
    }

    private static RegistryStartupException Unusable(string dataFolder, Exception e) => new(
        $"Registry:DataFolder={dataFolder} cannot be used as the data folder ({e.Message.TrimEnd('.')}): give a folder this user may create and write. Nothing was started.", e);

    /// <summary>
    /// Locks <paramref name="dataFolder"/> when it has a lock file already, creating nothing: a folder another registry
    /// holds is refused as such before the ports (which that registry may hold too) are checked. Null without a lock file.
    /// </summary>
    public static IDisposable? LockDataFolderIfPresent(string dataFolder) => Lock(dataFolder, FileMode.Open);

    private static FileStream? Lock(string dataFolder, FileMode mode)
    {
        var path = Path.Combine(dataFolder, LockFileName);
        try
        {
            // FileShare.None is an exclusive lock the OS drops when the process ends, however it ends.
            return new FileStream(path, mode, FileAccess.ReadWrite, FileShare.None);
        }
        catch (Exception e) when (mode == FileMode.Open && e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or FileNotFoundException or DirectoryNotFoundException or PathTooLongException)
        {
            throw Unusable(dataFolder, e);
        }
        catch (IOException e)
        {
            throw new RegistryStartupException(
                $"Another registry is running on the data folder {dataFolder} (it holds {path}). Stop it, or give this one another Registry:DataFolder.", e);
        }
    }

    /// <summary>
    /// Fails with one message naming every endpoint another process already uses (port 0 is always free), or
    /// every endpoint whose address is not one of this machine's (the bind would fail there whatever the port).
    /// </summary>
    public static void EnsureFree(IEnumerable<(string Setting, IPEndPoint Endpoint)> endpoints)
    {
        var checkedEndpoints = endpoints.Select(e => (e.Setting, e.Endpoint, Bind: TryBind(e.Endpoint))).ToList();
        var foreign = checkedEndpoints.Where(e => e.Bind == BindResult.AddressNotAvailable).Select(e => $"{e.Setting} {e.Endpoint}").ToList();
        if (foreign.Count > 0)
        {
            throw new RegistryStartupException(
                $"{string.Join(", ", foreign)}: the address is not one of this machine's, so nothing can listen there. Set Registry:ListenAddress " +
                "(Registry:Observability:ListenAddress for the metrics port) to an address of one of its interfaces, 127.0.0.1 or 0.0.0.0. Nothing was started.");
        }
        var taken = checkedEndpoints.Where(e => e.Bind == BindResult.InUse).Select(e => $"{e.Setting} {e.Endpoint}").ToList();
        if (taken.Count > 0)
        {
            throw new RegistryStartupException(
                // Not "listening" alone: a connection's local port is as much in use, and a review was sent looking for a
                // server where only a client socket held the port (2026-12-07).
                $"Another process is using {string.Join(", ", taken)} (listening there, or holding the port for one of its connections): is this registry already running? Nothing was started; stop the other process or choose other ports.");
        }
    }

    /// <summary>
    /// Fails with one message naming configured endpoints that would collide with each other (the same port on the same
    /// address, or on every address): the bind check cannot see them, since nobody listens there yet.
    /// </summary>
    public static void EnsureDistinct(IReadOnlyList<(string Setting, IPEndPoint Endpoint)> endpoints)
    {
        var clashes = new List<string>();
        for (var i = 0; i < endpoints.Count; i++)
        {
            for (var j = i + 1; j < endpoints.Count; j++)
            {
                var (a, b) = (endpoints[i].Endpoint, endpoints[j].Endpoint);
                if (a.Port != 0 && a.Port == b.Port && (a.Address.Equals(b.Address) || IsAny(a.Address) || IsAny(b.Address)))
                {
                    clashes.Add($"{endpoints[i].Setting} and {endpoints[j].Setting} are both port {a.Port}");
                }
            }
        }
        if (clashes.Count > 0)
        {
            throw new RegistryStartupException(
                $"{string.Join("; ", clashes)}: give each its own port. Nothing was started.");
        }
    }

    private static bool IsAny(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);

    private enum BindResult { Free, InUse, AddressNotAvailable }

    private static BindResult TryBind(IPEndPoint endpoint)
    {
        // A multicast or a broadcast address binds, but no client can connect to a listener there.
        if (endpoint.Address.IsIPv6Multicast || IsIPv4MulticastOrBroadcast(endpoint.Address))
        {
            return BindResult.AddressNotAvailable;
        }
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // No address reuse: the bind fails whenever anyone listens there, with or without reuse of their own.
            socket.Bind(endpoint);
            return BindResult.Free;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            // Port 0 is the operating system's to choose: never taken.
            return endpoint.Port == 0 ? BindResult.Free : BindResult.InUse;
        }
        // Invalid argument: an IPv6 link-local address without its scope, an IPv4-mapped one on an IPv6 socket; other
        // errors (a scope naming no interface) say no more than that nothing can listen there.
        catch (SocketException e) when (e.SocketErrorCode != SocketError.AccessDenied)
        {
            return BindResult.AddressNotAvailable;
        }
    }

    private static bool IsIPv4MulticastOrBroadcast(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            return false;
        }
        var bytes = address.GetAddressBytes();
        if (bytes[0] is >= 224 and <= 239 || address.Equals(IPAddress.Broadcast))
        {
            return true;
        }
        // The broadcast address of one of this machine's IPv4 networks (192.0.2.255 on 192.0.2.2/24, 127.255.255.255 on lo).
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                .Where(u => u.Address.AddressFamily == AddressFamily.InterNetwork && u.PrefixLength is > 0 and < 31)
                .Any(u => Broadcast(u.Address, u.PrefixLength).Equals(address));
        }
        catch (NetworkInformationException)
        {
            return false;
        }
    }

    private static IPAddress Broadcast(IPAddress address, int prefixLength)
    {
        var value = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(address.GetAddressBytes());
        var broadcast = value | (uint.MaxValue >> prefixLength);
        var bytes = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, broadcast);
        return new IPAddress(bytes);
    }
}

/// <summary>A start refused before anything was started: Program prints the message and exits with 1.</summary>
public sealed class RegistryStartupException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

/// <summary>The endpoints this host listens on, by setting: what a bind that failed after the start's check is named by.</summary>
public sealed record ListenEndpoints(IReadOnlyList<(string Setting, IPEndPoint Endpoint)> All);
