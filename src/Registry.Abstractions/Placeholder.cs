namespace Registry.Abstractions; internal static class Placeholder {}
