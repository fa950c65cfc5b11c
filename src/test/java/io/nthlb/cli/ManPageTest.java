package io.nthlb.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nthlb.Main;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

class ManPageTest {

    @Test
    void everyCommandAndEveryVisibleOptionIsOnThePage() {
        CommandLine cli = Main.commandLine();
        String page = ManPage.render(cli);
        assertThat(page).startsWith(".TH NTHLB 1 ");
        for (CommandLine sub : cli.getSubcommands().values()) {
            assertThat(page).contains(".SS nthlb " + ManPage.escape(sub.getCommandName()) + "\n");
            for (OptionSpec o : sub.getCommandSpec().options()) {
                if (!o.hidden()) {
                    assertThat(page).contains(ManPage.escape(o.longestName()));
                }
            }
        }
    }

    @Test
    void escapesWhatRoffWouldReadAsControl() {
        assertThat(ManPage.escape("a-b\\c")).isEqualTo("a\\-b\\ec");
        assertThat(ManPage.escape(".starts with a dot\n'and a quote")).isEqualTo("\\&.starts with a dot\n\\&'and a quote");
    }
}
