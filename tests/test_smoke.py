from conftest import run_promptctl


def test_render_json_smoke(project, cli):
    r = cli(["render", "hello", "--sample", "world", "--format", "json"], cwd=project)
    assert r.code == 0, r.err
    assert '"Say hello to World"' in r.out


def test_subprocess_version(project):
    p = run_promptctl(["--version"], cwd=project)
    assert p.returncode == 0
    assert p.stdout.startswith("promptctl ")
