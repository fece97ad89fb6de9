/**
 * `jobs completion bash|zsh|fish`: a shell completion script for the
 * commands, their flags and the values some flags take, made from the
 * command table itself (a command added there is completed too).
 *
 * ```sh
 * alias jobs='deno task -q jobs'
 * source <(jobs completion bash)       # or zsh; fish: jobs completion fish | source
 * ```
 *
 * @example
 * ```ts
 * const script = completionScript("bash", COMMANDS);
 * ```
 * @module
 */
import type { OptionSpec } from "./args.ts";
import type { Command } from "./commands.ts";
import { EXIT, usage } from "./errors.ts";
import { OUTPUT_FORMATS } from "./output.ts";

/** The shells a script can be made for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = (typeof SHELLS)[number];

/** The values a flag takes, by flag name, for any command that has it. */
const FLAG_VALUES: Record<string, readonly string[]> = {
  output: OUTPUT_FORMATS,
  type: ["periodic", "onetime"],
  order: ["asc", "desc"],
  sort: ["name", "nextRunAt", "lastRunAt", "createdAt"],
  overlap: ["skip", "allow", "replace"],
  "catch-up": ["skip", "once"],
  method: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
};

/** The values of a command's first argument, where they are a fixed set. */
const FIRST_ARG: Record<string, readonly string[]> = {
  completion: SHELLS,
  bulk: ["pause", "resume", "run", "delete"],
};

/** Flags whose value is a file name. */
const FILE_FLAGS = new Set(["file"]);

/** One command as the scripts see it. */
interface Spec {
  name: string;
  summary: string;
  /** `--long` and `-s` spellings of every flag; value-taking ones marked. */
  flags: { long: string; short?: string; takesValue: boolean }[];
  args: readonly string[];
}

function specs(commands: Command[], common: Record<string, OptionSpec>) {
  const out: Spec[] = commands.map((c) => ({
    name: c.name,
    summary: c.summary,
    flags: Object.entries({ ...common, ...c.options }).map(([long, o]) => ({
      long,
      short: o.short,
      takesValue: o.type === "string",
    })),
    args: FIRST_ARG[c.name] ?? [],
  }));
  out.push({
    name: "help",
    summary: "usage of jobs or of one command",
    flags: [],
    args: commands.map((c) => c.name),
  });
  return out;
}

const words = (list: readonly string[]) => list.join(" ");

function bash(all: Spec[]): string {
  const cases = all.map((s) => {
    const flags = s.flags.flatMap((f) => [
      `--${f.long}`,
      ...(f.short ? [`-${f.short}`] : []),
    ]);
    return `    ${s.name}) flags="${words(flags)}"; args="${words(s.args)}" ;;`;
  });
  const valueFlags = all.flatMap((s) =>
    s.flags.filter((f) => f.takesValue).flatMap((f) => [
      `--${f.long}`,
      ...(f.short ? [`-${f.short}`] : []),
    ])
  );
  const values = Object.entries(FLAG_VALUES).map(([flag, v]) => {
    const short = all.flatMap((s) => s.flags).find((f) =>
      f.long === flag && f.short
    )?.short;
    return `    --${flag}${
      short ? `|-${short}` : ""
    }) COMPREPLY=($(compgen -W "${words(v)}" -- "$cur")); return 0 ;;`;
  });
  return `# jobs completion for bash: source <(deno task -q jobs completion bash)
# (with alias jobs='deno task -q jobs'). Made by: jobs completion bash
_jobs() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  COMPREPLY=()
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${words(all.map((s) => s.name))}" -- "$cur"))
    return 0
  fi
  case "$prev" in
${values.join("\n")}
${
    [...FILE_FLAGS].map((f) =>
      `    --${f}) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;`
    ).join("\n")
  }
    ${[...new Set(valueFlags)].join("|")}) return 0 ;;
  esac
  local flags="" args=""
  case "\${COMP_WORDS[1]}" in
${cases.join("\n")}
  esac
  if [[ "$cur" == -* || -z "$args" || $COMP_CWORD -gt 2 ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$args" -- "$cur"))
  fi
  return 0
}
complete -F _jobs jobs`;
}

function zsh(all: Spec[]): string {
  return `#compdef jobs
# jobs completion for zsh: source <(deno task -q jobs completion zsh)
# (with alias jobs='deno task -q jobs'). It uses zsh's bash completion layer.
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bash(all).split("\n").slice(2).join("\n")}`;
}

const fishQuote = (s: string) =>
  `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

function fish(all: Spec[]): string {
  const lines = [
    "# jobs completion for fish: deno task -q jobs completion fish | source",
    "complete -c jobs -f",
  ];
  for (const s of all) {
    lines.push(
      `complete -c jobs -n __fish_use_subcommand -a ${s.name} -d ${
        fishQuote(s.summary.slice(0, 80))
      }`,
    );
    const seen = `"__fish_seen_subcommand_from ${s.name}"`;
    if (s.args.length) {
      lines.push(`complete -c jobs -n ${seen} -a ${fishQuote(words(s.args))}`);
    }
    for (const f of s.flags) {
      const values = FLAG_VALUES[f.long];
      lines.push(
        `complete -c jobs -n ${seen} -l ${f.long}${
          f.short ? ` -s ${f.short}` : ""
        }${f.takesValue ? " -r" : ""}${
          values ? ` -a ${fishQuote(words(values))}` : ""
        }${FILE_FLAGS.has(f.long) ? " -F" : ""}`,
      );
    }
  }
  return lines.join("\n");
}

/**
 * The completion script for a shell.
 *
 * @example
 * ```ts
 * completionScript("fish", COMMANDS, COMMON_OPTIONS).includes("complete -c jobs"); // true
 * ```
 */
export function completionScript(
  shell: Shell,
  commands: Command[],
  common: Record<string, OptionSpec>,
): string {
  const all = specs(commands, common);
  return shell === "bash" ? bash(all) : shell === "zsh" ? zsh(all) : fish(all);
}

/**
 * The `completion` command, over the command table it is given (a function,
 * so the table can hold this command too).
 *
 * @example
 * ```ts
 * const completion = completionCommand(() => COMMANDS, COMMON_OPTIONS);
 * ```
 */
export function completionCommand(
  commands: () => Command[],
  common: Record<string, OptionSpec>,
): Command {
  return {
    name: "completion",
    args: "bash|zsh|fish",
    summary: "print a shell completion script for the commands and flags",
    flags: [
      "bash    source <(deno task -q jobs completion bash)   (with alias jobs='deno task -q jobs')",
      "zsh     source <(deno task -q jobs completion zsh)",
      "fish    deno task -q jobs completion fish | source",
    ],
    examples: [
      "alias jobs='deno task -q jobs'; source <(jobs completion bash)",
      "deno task -q jobs completion bash > /etc/bash_completion.d/jobs",
    ],
    options: {},
    positionals: [1, 1],
    run(ctx, { positionals: [shell] }) {
      const known = SHELLS.find((s) => s === shell);
      if (!known) {
        throw usage(`unknown shell "${shell}": give ${SHELLS.join(", ")}`);
      }
      ctx.out(completionScript(known, commands(), common));
      return Promise.resolve(EXIT.ok);
    },
  };
}
