//! Interpreters that defeat plain `nohup` (docs/HANGUPS.md, "Programs that
//! undo nohup"): each
//! takes SIGHUP back at start-up or in the script. Under the shim each must
//! survive a real `kill -HUP` on its process group and keep answering.
//!
//! Every script speaks the fixture protocol: "ready" once its SIGHUP code
//! has run, "pong" for each "ping" line, exit 0 at end of input.

use hupsafe_tests::{hangup, Launch};

/// The hangup story for one script: plain `nohup` loses it, the shim keeps it.
fn interpreter_story(program: &str, args: &[&str]) {
    hangup(Launch::new(program).args(args).like_nohup()).assert_defeated();
    hangup(Launch::new(program).args(args).with_shim()).assert_survived();
}

const NODE_SERVE: &str = r#"
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (l) => { if (l === 'ping') console.log('pong'); });
rl.on('close', () => process.exit(0));
console.log('ready');
"#;

#[test]
fn node_with_a_sighup_handler_that_exits_survives() {
    let script = format!("process.on('SIGHUP', () => process.exit(3));\n{NODE_SERVE}");
    interpreter_story("node", &["-e", &script]);
}

#[test]
fn plain_node_survives() {
    // Node resets every inherited disposition at start-up: no SIGHUP code
    // in the script is needed to lose nohup's SIG_IGN.
    interpreter_story("node", &["-e", NODE_SERVE]);
}

const PYTHON_SERVE: &str = r#"
print('ready', flush=True)
for line in sys.stdin:
    if line.strip() == 'ping':
        print('pong', flush=True)
sys.exit(0)
"#;

#[test]
fn python_resetting_sighup_to_default_survives() {
    let script =
        format!("import signal, sys\nsignal.signal(signal.SIGHUP, signal.SIG_DFL)\n{PYTHON_SERVE}");
    interpreter_story("python3", &["-c", &script]);
}

#[test]
fn python_with_a_sighup_handler_that_exits_survives() {
    let script = format!(
        "import signal, sys\nsignal.signal(signal.SIGHUP, lambda *_: sys.exit(3))\n{PYTHON_SERVE}"
    );
    interpreter_story("python3", &["-c", &script]);
}

#[test]
fn perl_resetting_sighup_to_default_survives() {
    let perl = hupsafe_tests::require_tool!("perl", "perl");
    let script = r#"
$SIG{HUP} = 'DEFAULT';
$| = 1;
print "ready\n";
while (my $line = <STDIN>) {
    chomp $line;
    print "pong\n" if $line eq 'ping';
}
exit 0;
"#;
    interpreter_story(perl.to_str().unwrap(), &["-e", script]);
}
