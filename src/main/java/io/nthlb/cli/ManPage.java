package io.nthlb.cli;

import io.nthlb.Main;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.Model.UsageMessageSpec;

/**
 * Writes nthlb's man page (roff, section 1) from the same picocli model {@code --help} prints, so the two
 * cannot disagree. The build runs it into {@code target/nthlb.1}; read it with {@code man -l target/nthlb.1}.
 */
public final class ManPage {

    private ManPage() {
    }

    public static void main(String[] args) {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        out.print(render(Main.commandLine()));
        out.flush();
    }

    /** The whole page for {@code top} and its subcommands. */
    static String render(CommandLine top) {
        CommandSpec spec = top.getCommandSpec();
        StringBuilder page = new StringBuilder();
        String version = spec.version().length == 0 ? spec.name() : spec.version()[0];
        page.append(".TH NTHLB 1 \"\" \"").append(escape(version)).append("\" \"User Commands\"\n");
        page.append(".SH NAME\n").append(spec.name()).append(" \\- ")
                .append(escape(String.join(" ", spec.usageMessage().description()))).append('\n');
        page.append(".SH SYNOPSIS\n.B ").append(spec.name()).append("\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n");
        page.append(".SH OPTIONS\n");
        options(page, spec);
        page.append(".SH COMMANDS\n");
        for (Map.Entry<String, CommandLine> sub : top.getSubcommands().entrySet()) {
            command(page, sub.getValue().getCommandSpec());
        }
        page.append(".SH FILES\n")
                .append(".TP\n.I /etc/nthlb/nthlb.rules\nthe rules file of the systemd unit nthlb.service\n")
                .append(".SH ENVIRONMENT\n")
                .append(".TP\n.B NTHLB_JAVA_OPTS\nJVM flags the launcher adds after its own, such as \\-Xmx1g or"
                        + " \\-Dlogback.configurationFile=/etc/nthlb/logback.xml\n")
                .append(".TP\n.B JAVA_HOME\nthe Java runtime the launcher runs (default: java on PATH)\n")
                .append(".TP\n.B NOTIFY_SOCKET\nset by systemd for a Type=notify unit: nthlb says there when it is"
                        + " ready, reloading and stopping\n");
        page.append(".SH SEE ALSO\n.BR iptables (8),\n.BR iptables\\-save (8),\n.BR systemctl (1),\n.BR keepalived (8)\n");
        return page.toString();
    }

    private static void command(StringBuilder page, CommandSpec spec) {
        UsageMessageSpec usage = spec.usageMessage();
        page.append(".SS ").append(escape(spec.qualifiedName())).append('\n');
        page.append(".nf\n").append(escape(new Help(spec, Help.defaultColorScheme(Help.Ansi.OFF)).synopsis(0).strip()))
                .append("\n.fi\n");
        for (String paragraph : usage.description()) {
            page.append(".PP\n").append(escape(text(paragraph))).append('\n');
        }
        for (PositionalParamSpec p : spec.positionalParameters()) {
            page.append(".TP\n\\fI").append(escape(p.paramLabel())).append("\\fR\n")
                    .append(escape(description(p))).append('\n');
        }
        options(page, spec);
        if (!usage.exitCodeList().isEmpty()) {
            page.append(".PP\nExit status:\n");
            for (Map.Entry<String, String> code : usage.exitCodeList().entrySet()) {
                page.append(".TP\n.B ").append(escape(code.getKey().strip())).append('\n')
                        .append(escape(text(code.getValue()))).append('\n');
            }
        }
    }

    private static void options(StringBuilder page, CommandSpec spec) {
        for (OptionSpec o : spec.options()) {
            if (o.hidden()) {
                continue;
            }
            page.append(".TP\n\\fB").append(escape(String.join(", ", List.of(o.names())))).append("\\fR");
            if (o.arity().max() > 0) {
                page.append(" \\fI").append(escape(o.paramLabel())).append("\\fR");
            }
            page.append('\n').append(escape(description(o))).append('\n');
        }
    }

    private static String description(ArgSpec arg) {
        return text(String.join(" ", arg.description()));
    }

    /** picocli's description text as plain text: its format escapes resolved. */
    private static String text(String s) {
        return s.replace("%n", "\n").replace("%%", "%");
    }

    /** roff's escapes: backslashes and hyphens, and lines that would start with a control character. */
    static String escape(String s) {
        String escaped = s.replace("\\", "\\e").replace("-", "\\-");
        StringBuilder out = new StringBuilder(escaped.length());
        for (String line : escaped.split("\n", -1)) {
            if (out.length() > 0) {
                out.append('\n');
            }
            if (line.startsWith(".") || line.startsWith("'")) {
                out.append("\\&");
            }
            out.append(line);
        }
        return out.toString();
    }
}
