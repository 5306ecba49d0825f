using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Registry.Host;

/// <summary>
/// Makes the TLS identity of a registry that was given no certificate: a private CA and a server certificate it
/// signs for the HostName, localhost and 127.0.0.1. Clients trust the CA file (NODE_EXTRA_CA_CERTS,
/// SSL_CERT_FILE); the files are reused on later starts so a trusted CA stays trusted.
/// </summary>
public static class DevelopmentCertificates
{
    public const string CaFileName = "ca.pem";
    public const string ServerFileName = "server.pfx";

    /// <summary>Loads the certificate pair from <paramref name="folder"/>, creating it when absent or no longer valid for the host name.</summary>
    public static X509Certificate2 LoadOrCreate(string folder, string hostName, out string caPath)
    {
        Directory.CreateDirectory(folder);
        caPath = Path.Combine(folder, CaFileName);
        var serverPath = Path.Combine(folder, ServerFileName);

        if (File.Exists(caPath) && File.Exists(serverPath))
        {
            var existing = X509CertificateLoader.LoadPkcs12FromFile(serverPath, password: null, X509KeyStorageFlags.Exportable);
            if (existing.NotAfter > DateTime.UtcNow.AddDays(7) && existing.MatchesHostname(hostName))
            {
                return existing;
            }
            existing.Dispose();
        }

        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=Registry.Orleans Development CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow.AddMinutes(-5);
        using var ca = caRequest.CreateSelfSigned(now, now.AddYears(5));

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
        using var signed = serverRequest.Create(ca, now, now.AddYears(2), serial);
        using var server = signed.CopyWithPrivateKey(serverKey);

        File.WriteAllText(caPath, ca.ExportCertificatePem());
        var pfx = server.Export(X509ContentType.Pfx);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            // The private key is never readable by others, not even between creating and chmod-ing the file.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var file = new FileStream(serverPath, options))
        {
            file.Write(pfx);
        }
        return X509CertificateLoader.LoadPkcs12(pfx, password: null, X509KeyStorageFlags.Exportable);
    }
}
