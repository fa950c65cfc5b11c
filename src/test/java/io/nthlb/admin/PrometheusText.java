package io.nthlb.admin;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Prometheus text format (0.0.4) read back line by line, for tests: every line must be a {@code # HELP},
 * a {@code # TYPE} or a sample, or parsing fails; samples are keyed {@code name{label="value",...}} as written.
 */
final class PrometheusText {

    private static final Pattern HELP = Pattern.compile("# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*");
    private static final Pattern TYPE =
            Pattern.compile("# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)");
    private static final Pattern SAMPLE = Pattern.compile(
            "([a-zA-Z_:][a-zA-Z0-9_:]*(?:\\{(?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\.)*\",?)*})?)"
                    + " (\\S+)(?: -?\\d+)?");

    final Map<String, Double> samples = new LinkedHashMap<>();
    final Map<String, String> types = new LinkedHashMap<>();

    private PrometheusText() {
    }

    static PrometheusText parse(String text) {
        PrometheusText parsed = new PrometheusText();
        for (String line : text.split("\n")) {
            if (line.isEmpty()) {
                continue;
            }
            if (line.startsWith("# HELP ")) {
                require(HELP.matcher(line).matches(), line);
            } else if (line.startsWith("# TYPE ")) {
                require(TYPE.matcher(line).matches(), line);
                String[] parts = line.split(" ");
                parsed.types.put(parts[2], parts[3]);
            } else {
                Matcher sample = SAMPLE.matcher(line);
                require(sample.matches(), line);
                parsed.samples.put(sample.group(1), value(sample.group(2), line));
            }
        }
        return parsed;
    }

    /** The sample's value, or {@code null} when there is no such sample. */
    Double sample(String key) {
        return samples.get(key);
    }

    private static double value(String text, String line) {
        switch (text) {
            case "+Inf":
                return Double.POSITIVE_INFINITY;
            case "-Inf":
                return Double.NEGATIVE_INFINITY;
            case "NaN":
                return Double.NaN;
            default:
                try {
                    return Double.parseDouble(text);
                } catch (NumberFormatException e) {
                    throw new AssertionError("not a sample value in: " + line, e);
                }
        }
    }

    private static void require(boolean ok, String line) {
        if (!ok) {
            throw new AssertionError("not a line of the Prometheus text format: " + line);
        }
    }
}
