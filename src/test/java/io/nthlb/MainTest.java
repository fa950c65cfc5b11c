package io.nthlb;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/** The command line as a whole: what every subcommand answers, and the completion script it generates. */
class MainTest {

    @TempDir
    Path dir;

    static Iterable<String> subcommands() {
        return Main.commandLine().getSubcommands().keySet();
    }

    @ParameterizedTest
    @MethodSource("subcommands")
    void everySubcommandPrintsTheVersion(String subcommand) {
        for (String flag : new String[] {"-V", "--version"}) {
            StringWriter out = new StringWriter();
            CommandLine cli = Main.commandLine();
            cli.setOut(new PrintWriter(out, true));
            assertThat(cli.execute(subcommand, flag)).isZero();
            assertThat(out.toString()).startsWith("nthlb ");
        }
    }

    @Test
    void helpListsGenerateCompletion() {
        assertThat(Main.commandLine().getUsageMessage()).contains("generate-completion");
    }

    @Test
    void bashCompletionCompletesReToReload() throws Exception {
        StringWriter script = new StringWriter();
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(script, true));
        assertThat(cli.execute("generate-completion")).isZero();
        Path file = dir.resolve("nthlb.bash");
        Files.writeString(file, script.toString());

        assertThat(complete(file, "nthlb re")).isEqualTo("reload");
        assertThat(complete(file, "nthlb run --drain")).isEqualTo("--drain-timeout");
    }

    /** What bash offers for the last word of {@code line}, the way it calls a completion function on TAB. */
    private static String complete(Path script, String line) throws IOException, InterruptedException {
        String call = "source " + script + "; COMP_LINE='" + line + "'; COMP_POINT=${#COMP_LINE};"
                + " COMP_WORDS=(" + line + "); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ));"
                + " _complete_nthlb; echo \"${COMPREPLY[*]}\"";
        // compopt complains on stderr when not called by readline itself; only the reply matters here.
        Process bash = new ProcessBuilder("bash", "-c", call)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(bash.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return out;
    }
}
