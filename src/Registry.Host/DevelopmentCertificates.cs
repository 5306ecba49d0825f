using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Registry.Host;

/// <summary>
/// Makes the TLS identity of a registry that was given no certificate: a private CA and a server certificate it
/// signs for the HostName, localhost and 127.0.0.1. Clients trust the CA file (NODE_EXTRA_CA_CERTS,
/// SSL_CERT_FILE); the files are reused on later starts so a trusted CA stays trusted. The CA key is kept beside
/// the CA, so a new server certificate (another HostName, or renewal) is issued by the same, still trusted, CA.
/// </summary>
public static class DevelopmentCertificates
{
    public const string CaFileName = "ca.pem";
    public const string CaKeyFileName = "ca.key";
    public const string ServerFileName = "server.pfx";

    /// <summary>Certificates this close to expiry are replaced on start.</summary>
    private static readonly TimeSpan RenewBefore = TimeSpan.FromDays(7);

    /// <summary>
    /// Loads the certificate pair from <paramref name="folder"/>, issuing a new server certificate when absent or no
    /// longer valid for the host name. The CA is replaced only when a new server certificate is needed and it cannot
    /// issue it (expired, damaged, or its key is missing), so a damaged ca.pem or ca.key beside a valid server.pfx is
    /// left alone; <see cref="DevelopmentCertificate.CaReplacedBecause"/> says why a CA was replaced, for a Warning.
    /// </summary>
    public static DevelopmentCertificate LoadOrCreate(string folder, string hostName)
    {
        Directory.CreateDirectory(folder);
        var caPath = Path.Combine(folder, CaFileName);
        var caKeyPath = Path.Combine(folder, CaKeyFileName);
        var serverPath = Path.Combine(folder, ServerFileName);
        var now = DateTimeOffset.UtcNow;

        using var ca = LoadCa(caPath, caKeyPath, now, out var caUnusable);
        if (File.Exists(serverPath))
        {
            var existing = LoadServer(serverPath);
            if (existing is not null && existing.NotAfter.ToUniversalTime() > now.UtcDateTime + RenewBefore && existing.MatchesHostname(hostName) && IssuedBy(existing, caPath))
            {
                return new DevelopmentCertificate(existing, caPath, CaReplacedBecause: null);
            }
            existing?.Dispose();
        }

        string? replaced = null;
        var issuer = ca;
        if (issuer is null)
        {
            // A folder that never had a CA just gets one; replacing one that clients may trust is worth a Warning.
            replaced = File.Exists(caPath) ? caUnusable : null;
            issuer = CreateCa(caPath, caKeyPath, now);
        }
        try
        {
            var server = IssueServer(issuer, hostName, now);
            WritePrivate(serverPath, server.Export(X509ContentType.Pfx));
            return new DevelopmentCertificate(server, caPath, replaced);
        }
        finally
        {
            if (!ReferenceEquals(issuer, ca))
            {
                issuer.Dispose();
            }
        }
    }

    /// <summary>The CA with its key, or null (and why) when it cannot issue a certificate any more.</summary>
    private static X509Certificate2? LoadCa(string caPath, string caKeyPath, DateTimeOffset now, out string? unusable)
    {
        unusable = null;
        if (!File.Exists(caPath))
        {
            return null;
        }
        if (!File.Exists(caKeyPath))
        {
            unusable = $"its key {caKeyPath} is missing (registries before this version did not keep it)";
            return null;
        }
        using var certificate = ReadPem(caPath, pem => X509Certificate2.CreateFromPem(pem));
        if (certificate is null)
        {
            unusable = $"{caPath} is not a readable PEM certificate";
            return null;
        }
        if (certificate.NotAfter.ToUniversalTime() <= now.UtcDateTime + RenewBefore)
        {
            unusable = $"it expires on {certificate.NotAfter.ToUniversalTime():u}";
            return null;
        }
        using var key = RSA.Create();
        if (ReadPem(caKeyPath, pem => { key.ImportFromPem(pem); return key; }) is null)
        {
            unusable = $"{caKeyPath} is not a readable PEM RSA private key";
            return null;
        }
        try
        {
            return certificate.CopyWithPrivateKey(key);
        }
        catch (ArgumentException)
        {
            unusable = $"{caKeyPath} is not the key of {caPath}";
            return null;
        }
    }

    /// <summary>
    /// Parses a PEM file; null when it is damaged (truncated, edited), so a damaged CA is replaced like one that cannot
    /// issue rather than crashing the start: a file no client can load is trusted by none.
    /// </summary>
    private static T? ReadPem<T>(string path, Func<string, T> parse) where T : class
    {
        try
        {
            return parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The server certificate, or null when the file is damaged: it is derived from the CA, so it is just issued again.</summary>
    private static X509Certificate2? LoadServer(string serverPath)
    {
        try
        {
            return X509CertificateLoader.LoadPkcs12FromFile(serverPath, password: null, X509KeyStorageFlags.Exportable);
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    private static bool IssuedBy(X509Certificate2 server, string caPath)
    {
        if (!File.Exists(caPath))
        {
            return false;
        }
        using var ca = ReadPem(caPath, pem => X509Certificate2.CreateFromPem(pem));
        if (ca is null)
        {
            // Nothing shows the server certificate comes from another CA, and replacing the CA for it would make every
            // client that trusted the old one fail; it is replaced only when a new server certificate is needed. The
            // server certificate cannot restore it: server.pfx holds no CA certificate.
            return true;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(server);
    }

    private static X509Certificate2 CreateCa(string caPath, string caKeyPath, DateTimeOffset now)
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=Registry.Orleans Development CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var notBefore = now.AddMinutes(-5);
        var ca = caRequest.CreateSelfSigned(notBefore, notBefore.AddYears(5));
        // Key first: a ca.pem without its key would be replaced again on the next start.
        // Each file ends with a newline, as PEM tools expect: joined into one bundle (a client trusting several gateways'
        // CAs), files without one read "-----END CERTIFICATE----------BEGIN…" and Node refused the whole bundle.
        WritePrivate(caKeyPath, System.Text.Encoding.ASCII.GetBytes(caKey.ExportPkcs8PrivateKeyPem() + "\n"));
        File.WriteAllText(caPath, ca.ExportCertificatePem() + "\n");
        return ca;
    }

    private static X509Certificate2 IssueServer(X509Certificate2 ca, string hostName, DateTimeOffset now)
    {
        using var serverKey = RSA.Create(2048);
        var serverRequest = new CertificateRequest($"CN={hostName}", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in new[] { hostName, "localhost" }.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (IPAddress.TryParse(name, out var ip))
            {
                san.AddIpAddress(ip);
            }
            else
            {
                san.AddDnsName(name);
            }
        }
        san.AddIpAddress(IPAddress.Loopback);
        serverRequest.CertificateExtensions.Add(san.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        serverRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        var notBefore = now.AddMinutes(-5);
        // A certificate cannot outlive its issuer: near the CA's end the server certificate ends with it.
        var notAfter = new DateTimeOffset(Math.Min(notBefore.AddYears(2).UtcTicks, new DateTimeOffset(ca.NotAfter).UtcTicks), TimeSpan.Zero);
        using var signed = serverRequest.Create(ca, notBefore, notAfter, serial);
        using var server = signed.CopyWithPrivateKey(serverKey);
        return X509CertificateLoader.LoadPkcs12(server.Export(X509ContentType.Pfx), password: null, X509KeyStorageFlags.Exportable);
    }

    /// <summary>Writes a file holding a private key: never readable by others, not even between creating and chmod-ing it.</summary>
    private static void WritePrivate(string path, byte[] content)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using var file = new FileStream(path, options);
        file.Write(content);
    }
}

/// <summary>The generated server certificate, where its CA is, and why the CA was replaced if it was.</summary>
public sealed record DevelopmentCertificate(X509Certificate2 Server, string CaPath, string? CaReplacedBecause);
