using Edge.Daemon.Cli;
using Microsoft.Extensions.Configuration;

namespace Edge.Daemon.Configuration;

/// <summary>Builds <see cref="EdgedOptions"/> from the JSON file, EDGED_* environment variables and --Key=Value arguments, in that order.</summary>
public static class OptionsLoader
{
    public static EdgedOptions Load(string? configPath, IReadOnlyList<string> overrides, IDictionary<string, string?>? environment = null)
    {
        var builder = new ConfigurationBuilder();
        if (configPath is not null)
        {
            var full = Path.GetFullPath(configPath);
            if (!File.Exists(full)) throw new CliError($"config file '{configPath}' does not exist");
            builder.AddJsonFile(full, optional: false, reloadOnChange: false);
        }
        if (environment is null) builder.AddEnvironmentVariables("EDGED_");
        else builder.AddInMemoryCollection(environment.Where(kv => kv.Key.StartsWith("EDGED_", StringComparison.Ordinal))
            .Select(kv => new KeyValuePair<string, string?>(kv.Key["EDGED_".Length..].Replace("__", ":", StringComparison.Ordinal), kv.Value)));
        builder.AddCommandLine([.. overrides]);
        IConfigurationRoot config;
        try
        {
            config = builder.Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or System.Text.Json.JsonException)
        {
            throw new CliError($"config file '{configPath}' is not valid JSON: {(e.InnerException ?? e).Message}");
        }
        var options = new EdgedOptions();
        try
        {
            config.Bind(options, b => b.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            throw new CliError($"config: {e.Message}");
        }
        var errors = OptionsValidator.Validate(options);
        if (errors.Count > 0) throw new CliError("config: " + string.Join("; ", errors));
        return options;
    }
}
