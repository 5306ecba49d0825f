namespace Registry.Gateway; internal static class Placeholder {}
