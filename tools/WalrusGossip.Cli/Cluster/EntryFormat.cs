using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary>How entries are printed: JSON objects for scripts, one-line previews for people.</summary>
internal static class EntryFormat
{
    public static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    public static readonly JsonWriterOptions Compact = new() { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The payload as text when it is valid UTF-8, else null.</summary>
    public static string? TryText(ReadOnlySpan<byte> payload) => Utf8.IsValid(payload) ? Encoding.UTF8.GetString(payload) : null;

    /// <summary>
    /// Writes <c>{ index, term, stream, payload (base64), payloadText }</c>; <c>payloadText</c> only when the payload
    /// is valid UTF-8, <c>stream</c> null when the entry has none.
    /// </summary>
    public static void Write(Utf8JsonWriter json, LogEntry entry)
    {
        json.WriteStartObject();
        json.WriteNumber("index", entry.Index);
        json.WriteNumber("term", entry.Term);
        if (entry.Stream is null)
        {
            json.WriteNull("stream");
        }
        else
        {
            json.WriteString("stream", entry.Stream);
        }

        if (entry.StreamSequence != 0)
        {
            json.WriteNumber("streamSequence", entry.StreamSequence);
        }

        json.WriteBase64String("payload", entry.Payload.Span);
        if (TryText(entry.Payload.Span) is { } text)
        {
            json.WriteString("payloadText", text);
        }

        json.WriteEndObject();
    }

    /// <summary>One entry as a single JSON line.</summary>
    public static string ToJsonLine(LogEntry entry)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, Compact))
        {
            Write(json, entry);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>The payload for a table or a tail line: text with control characters escaped, or <c>base64:</c> and the bytes.</summary>
    public static string Preview(ReadOnlySpan<byte> payload, int maxChars)
    {
        string text;
        if (TryText(payload) is { } utf8)
        {
            var builder = new StringBuilder(Math.Min(utf8.Length, maxChars + 8));
            foreach (var c in utf8)
            {
                _ = c switch
                {
                    '\n' => builder.Append("\\n"),
                    '\r' => builder.Append("\\r"),
                    '\t' => builder.Append("\\t"),
                    _ when char.IsControl(c) => builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                    _ => builder.Append(c),
                };
                if (builder.Length > maxChars)
                {
                    break;
                }
            }

            text = builder.ToString();
        }
        else
        {
            text = "base64:" + Convert.ToBase64String(payload);
        }

        return text.Length > maxChars ? text[..maxChars] + "…" : text;
    }
}
