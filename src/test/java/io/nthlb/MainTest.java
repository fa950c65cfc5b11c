package io.nthlb;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
    void buildsOnlyTheSubcommandItsFirstArgumentNames() {
        assertThat(Main.commandLineFor(new String[] {"run", "x.rules"}).getSubcommands()).containsOnlyKeys("run");
        assertThat(Main.commandLineFor(new String[] {"check"}).getSubcommands()).containsOnlyKeys("check");
        assertThat(Main.commandLineFor(new String[] {"--version"}).getSubcommands()).isEmpty();
        // Anything else is answered by the whole command line, which knows every name.
        for (String[] args : new String[][] {{}, {"--help"}, {"-V", "run"}, {"rn"}, {"x.rules", "run"}}) {
            assertThat(Main.commandLineFor(args).getSubcommands().keySet())
                    .containsExactlyElementsOf(subcommands());
        }
    }

    @ParameterizedTest
    @MethodSource("runArguments")
    void aSubcommandBuiltAloneAnswersAsInTheWholeCommandLine(List<String> args) {
        assertThat(answer(Main.commandLineFor(args.toArray(String[]::new)), args))
                .isEqualTo(answer(Main.commandLine(), args));
    }

    static List<List<String>> runArguments() {
        return List.of(List.of("run", "--help"), List.of("run", "-V"), List.of("run"),
                List.of("run", "--no-such-option", "x.rules"), List.of("run", "--threads", "many", "x.rules"),
                List.of("check", "--help"), List.of("generate-completion", "--help"),
                List.of("rn", "x.rules"), List.of("--help"), List.of("--version"), List.of("-V"));
    }

    /** The exit status and everything written, as a user would see it. */
    private static String answer(CommandLine cli, List<String> args) {
        StringWriter out = new StringWriter();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(out, true));
        int status = cli.execute(args.toArray(String[]::new));
        return status + "\n" + out;
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
