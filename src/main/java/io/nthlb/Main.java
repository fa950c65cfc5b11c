package io.nthlb;

import io.nthlb.cli.CheckCommand;
import io.nthlb.cli.DemoCommand;
import io.nthlb.cli.ListCommand;
import io.nthlb.cli.ReloadCommand;
import io.nthlb.cli.RunCommand;
import io.nthlb.cli.SaveCommand;
import io.nthlb.cli.SimulateCommand;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** nthlb's command line: one picocli subcommand per thing a user does. */
@Command(name = "nthlb", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "A userspace L4 load balancer that runs iptables nat rules the way the kernel does.",
        subcommands = {RunCommand.class, DemoCommand.class, CheckCommand.class, SimulateCommand.class,
                ListCommand.class, SaveCommand.class, ReloadCommand.class, AutoComplete.GenerateCompletion.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line, shared by {@link #main}, the tests and the build's man page and completion. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        // picocli hides its completion command by default; nthlb documents it, so --help lists it.
        cli.getSubcommands().get("generate-completion").getCommandSpec().usageMessage().hidden(false);
        // Subcommands do not inherit the top command's version provider: without this, `run -V` prints nothing.
        Version version = new Version();
        for (CommandLine sub : cli.getSubcommands().values()) {
            sub.getCommandSpec().versionProvider(version);
        }
        return cli;
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing required subcommand");
    }

    /** Reads the version from the jar's manifest, so it is written in one place (the pom). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"nthlb " + (v == null ? "(development build)" : v)};
        }
    }
}
