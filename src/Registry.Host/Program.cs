using Registry.Host;

await RegistryHost.Build(args).RunAsync();
