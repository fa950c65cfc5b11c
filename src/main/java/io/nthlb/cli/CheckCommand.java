package io.nthlb.cli;

import io.nthlb.rules.LoadResult;
import io.nthlb.rules.RuleError;
import io.nthlb.rules.RulePrinter;
import io.nthlb.rules.RulesFile;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code nthlb check FILE}: parses a rules file and prints it as {@code iptables -t nat -S} would. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Parse a rules file (iptables -t nat commands or an iptables-save file) and print it "
                + "as `iptables -t nat -S` would.",
                "Errors are printed as FILE:LINE: message (iptables' own words) and exit with status 2."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:the file is valid", "2:the file has errors or cannot be read"})
public final class CheckCommand implements Callable<Integer> {
    /** The exit status iptables uses for a rule it refuses, kept so scripts can treat both alike. */
    static final int EXIT_INVALID = 2;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "the rules file")
    Path file;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        LoadResult result = RulesFile.load(file);
        for (RuleError warning : result.warnings()) {
            err.println(warning);
        }
        for (RuleError error : result.errors()) {
            err.println(error);
        }
        err.flush();
        if (!result.ok()) {
            return EXIT_INVALID;
        }
        out.print(RulePrinter.listRules(result.ruleset()));
        out.flush();
        return 0;
    }
}
