using System.ComponentModel.DataAnnotations;

namespace Grace.Web.Otlp;

/// <summary>How OTLP log records become signals (<c>Grace:Otlp</c>). Body and rate limits are <c>Grace:Ingestion</c>'s.</summary>
public sealed class OtlpOptions
{
    public const string Section = "Grace:Otlp";

    /// <summary>The template attributes the OpenTelemetry .NET SDK, Serilog's OTLP sink and others export, in the order they are tried.</summary>
    public static readonly IReadOnlyList<string> DefaultTemplateAttributes = ["{OriginalFormat}", "message_template.text", "message_template", "log.template"];

    /// <summary>Log attributes worth a label by default: they say where in the code, not which request.</summary>
    public static readonly IReadOnlyList<string> DefaultLabelAttributes = ["event.name", "code.function.name", "code.namespace", "code.function", "http.route", "error.type", "db.system.name"];

    /// <summary>
    /// The lowest OTLP severity number that becomes a signal (17 = ERROR, 21 = FATAL). Records
    /// below it are counted and ignored, never refused.
    /// </summary>
    [Range(1, 24, ErrorMessage = "Grace:Otlp:MinimumSeverityNumber must be between {1} (TRACE) and {2} (FATAL4); 17 is ERROR.")]
    public int MinimumSeverityNumber { get; set; } = 17;

    /// <summary>Log attributes holding the message template, the best fingerprint; empty means <see cref="DefaultTemplateAttributes"/>.</summary>
    public string[]? TemplateAttributes { get; set; }

    /// <summary>Log attributes copied into the signal's labels (resource attributes always are); empty means <see cref="DefaultLabelAttributes"/>.</summary>
    public string[]? LabelAttributes { get; set; }

    /// <summary>
    /// The largest body after gzip is undone. <c>Grace:Ingestion:MaxBodyBytes</c> bounds what
    /// comes over the wire; this bounds what a small compressed body may grow into.
    /// </summary>
    [Range(1024, 1024 * 1024 * 1024, ErrorMessage = "Grace:Otlp:MaxDecompressedBytes must be between {1} and {2}.")]
    public int MaxDecompressedBytes { get; set; } = 64 * 1024 * 1024;

    internal IReadOnlyList<string> Templates => TemplateAttributes is { Length: > 0 } t ? t : DefaultTemplateAttributes;

    internal IReadOnlyList<string> Labels => LabelAttributes is { Length: > 0 } l ? l : DefaultLabelAttributes;
}
