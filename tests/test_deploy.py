"""Issue 6: the TensorBoard deployment, tested against a local AWS (nbs/08_deploy.ipynb explains the design).

moto runs in server mode on 127.0.0.1 (a free port); the real Terraform CLI applies `deploy/terraform/` to it with the
real AWS provider, installed from a local plugin directory (no registry download). boto3 then checks every resource and
each security setting, plans that open the dashboard to the internet are refused, the image's own entrypoint serves a
published training run from moto's S3 as the task role (moto enforcing IAM), and `terraform destroy` leaves nothing
behind.

Terraform and the provider are looked up on PATH and in `$SCOLIOSIS_XRAY_TF_PLUGIN_DIR` (default: the first of
/opt/tf-plugins, ~/.terraform.d/plugins, ~/.local/share/terraform/plugins that holds the pinned provider; layout
registry.terraform.io/hashicorp/aws/VERSION/OS_ARCH/, or the packed layout `terraform providers mirror` writes). Tests that need them are
skipped, with that reason, only when they are absent. Every process started here is stopped here; nothing but
127.0.0.1 is contacted (Terraform's update check is off)."""
import json, os, re, shutil, signal, socket, subprocess, sys, time, urllib.error, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TF_SRC, TB_SRC = ROOT / 'deploy' / 'terraform', ROOT / 'deploy' / 'tensorboard'
BIN = Path(sys.executable).parent
REGION, ALLOWED = 'us-east-1', '203.0.113.7/32'        # TEST-NET-3: an address no one owns
PLUGIN_ENV = 'SCOLIOSIS_XRAY_TF_PLUGIN_DIR'
PLUGIN_DIRS = ['/opt/tf-plugins', '~/.terraform.d/plugins', '~/.local/share/terraform/plugins']
PROVIDER_VERSION = re.search(r'source\s*=\s*"hashicorp/aws"\s*\n\s*version\s*=\s*"([^"]+)"', (TF_SRC / 'versions.tf').read_text()).group(1)
# Every service the configuration uses, pointed at moto (provider endpoint names).
ENDPOINTS = ['ec2', 'ecr', 'ecs', 'iam', 'logs', 's3', 'sts']


# ---------------------------------------------------------------------------------------------------------------- helpers

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def wait_http(url, timeout, proc=None, ok=lambda body: True):
    "Poll `url` until it answers 200 and `ok(body)`; False on timeout or if `proc` exits."
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None: return False
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200 and ok(r.read()): return True
        except (urllib.error.URLError, ConnectionError, OSError): pass
        time.sleep(0.25)
    return False

def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r: return json.load(r)

def stop(proc, timeout=15):
    "Stop a process started with start_new_session=True, and its children."
    if proc is None or proc.poll() is not None: return
    try: os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError: return
    try: proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL); proc.wait(timeout)

def clean_env(**extra):
    "The environment for every child: no real AWS settings or credentials, fake ones instead, loopback never proxied."
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'TF_', 'S3_'))}
    env.update(AWS_ACCESS_KEY_ID='test', AWS_SECRET_ACCESS_KEY='test', AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED='true',
               NO_PROXY='127.0.0.1,localhost', no_proxy='127.0.0.1,localhost', CHECKPOINT_DISABLE='1',
               TF_IN_AUTOMATION='1', TF_INPUT='0', TF_CLI_CONFIG_FILE=os.devnull, PYTHONPATH=str(ROOT))
    env['PATH'] = f'{BIN}{os.pathsep}{env.get("PATH", "")}'
    env.update(extra)
    return env

def find_plugin_dir():
    "The plugin directory holding the pinned AWS provider, or None."
    cands = [os.environ[PLUGIN_ENV]] if os.environ.get(PLUGIN_ENV) else PLUGIN_DIRS
    for d in cands:
        d = Path(d).expanduser()
        base = 'registry.terraform.io/hashicorp/aws'
        if any(d.glob(f'{base}/{PROVIDER_VERSION}/*/terraform-provider-aws*')) or any(d.glob(f'{base}/terraform-provider-aws_{PROVIDER_VERSION}_*.zip')):
            return d                                      # unpacked layout, or the packed one `terraform providers mirror` writes
    return None

def need_terraform():
    tf = shutil.which('terraform')
    if not tf: pytest.skip('terraform is not on PATH (install Terraform >= 1.9 to run the deployment tests)')
    pdir = find_plugin_dir()
    if pdir is None:
        where = os.environ.get(PLUGIN_ENV) or ', '.join(PLUGIN_DIRS)
        pytest.skip(f'the AWS provider {PROVIDER_VERSION} is not in a local plugin directory ({where}); set {PLUGIN_ENV} '
                    f'to one laid out as registry.terraform.io/hashicorp/aws/{PROVIDER_VERSION}/OS_ARCH/, or made by '
                    '`terraform -chdir=deploy/terraform providers mirror DIR` where the registry is reachable')
    return tf, pdir

class Terraform:
    "The terraform CLI in one working directory, with a clean environment."
    def __init__(self, exe, workdir, env): self.exe, self.dir, self.env = exe, Path(workdir), env
    def __call__(self, *args, check=True, timeout=600):
        r = subprocess.run([self.exe, *map(str, args)], cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode: raise AssertionError(f'terraform {" ".join(map(str, args))} failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}')
        return r

def policy_statements(doc):
    doc = json.loads(doc) if isinstance(doc, str) else doc
    st = doc['Statement']
    return st if isinstance(st, list) else [st]

def as_list(x): return x if isinstance(x, list) else [x]


# ---------------------------------------------------------------------------------------------------------------- fixtures

class Moto:
    def __init__(self, url, log): self.url, self.log = url, log
    def client(self, service, **creds):
        import boto3
        from botocore.config import Config
        creds = creds or dict(aws_access_key_id='test', aws_secret_access_key='test')
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, config=Config(s3={'addressing_style': 'path'}), **creds)
    def enforce_iam(self, on: bool):
        "moto's switch for IAM enforcement: from now on every request must be signed by an IAM identity that may make it."
        req = urllib.request.Request(f'{self.url}/moto-api/reset-auth', data=b'0' if on else b'inf', method='POST',
                                     headers={'Content-Type': 'text/plain'})
        with urllib.request.urlopen(req, timeout=10) as r: assert r.status == 200

@pytest.fixture(scope='module')
def moto(tmp_path_factory):
    pytest.importorskip('moto.server', reason="moto[server] is a dev dependency: pip install -e '.[dev]'")
    log = tmp_path_factory.mktemp('moto') / 'moto.log'
    proc = None
    for _ in range(3):                                    # a free port can be taken between the check and the bind
        port = free_port()
        with open(log, 'ab') as f:
            proc = subprocess.Popen([str(BIN / 'moto_server'), '-H', '127.0.0.1', '-p', str(port)], stdout=f, stderr=subprocess.STDOUT,
                                    env=clean_env(), start_new_session=True)
        if wait_http(f'http://127.0.0.1:{port}/moto-api/data.json', 60, proc): break
        stop(proc); proc = None
    assert proc is not None, f'moto server did not start:\n{log.read_text()[-3000:]}'
    m = Moto(f'http://127.0.0.1:{port}', log)
    m.client('ec2').describe_vpcs()                     # load moto's EC2 backend (the slowest) before Terraform needs it
    yield m
    stop(proc)

def terraform_dir(moto, tmp_path_factory, name):
    "A copy of deploy/terraform, initialised from the local plugin directory, with every provider endpoint at moto."
    exe, pdir = need_terraform()
    work = tmp_path_factory.mktemp(name)
    for f in TF_SRC.glob('*.tf'): shutil.copy2(f, work / f.name)
    t = Terraform(exe, work, clean_env())
    t('init', '-input=false', '-backend=false', f'-plugin-dir={pdir}')
    ep = '\n'.join(f'    {s} = "{moto.url}"' for s in ENDPOINTS)
    (work / 'moto_override.tf').write_text(f'''# Written by tests/test_deploy.py: every endpoint is the local moto server.
provider "aws" {{
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  endpoints {{
{ep}
  }}
}}
''')
    (work / 'test.tfvars.json').write_text(json.dumps({'allowed_cidrs': [ALLOWED], 'image_tag': 'test', 'force_destroy': True}))
    return t

class Stack:
    """`terraform apply` of the configuration to moto, started in the background as soon as a test asks for it (most of
    its time is the AWS provider waiting for S3's lifecycle configuration to settle), so validate and plans run meanwhile."""
    def __init__(self, tf):
        self.tf, self.applied, self.outputs, self.t0 = tf, False, {}, time.monotonic()
        self.log = tf.dir / 'apply.log'
        with open(self.log, 'wb') as f:
            self.proc = subprocess.Popen([tf.exe, 'apply', '-auto-approve', '-input=false', '-no-color', '-parallelism=20',
                                          '-var-file=test.tfvars.json'], cwd=tf.dir, env=tf.env, stdout=f,
                                         stderr=subprocess.STDOUT, start_new_session=True)
    def wait(self):
        if self.proc is not None:
            rc = self.proc.wait(600)
            self.applied, self.apply_s, self.proc = True, time.monotonic() - self.t0, None   # a failed apply may leave resources too
            assert rc == 0, f'terraform apply failed ({rc}):\n{self.log.read_text()[-5000:]}'
            self.outputs = {k: v['value'] for k, v in json.loads(self.tf('output', '-json').stdout).items()}
        assert self.outputs, 'terraform apply did not succeed (see the first failure)'
        return self
    def destroy(self):
        if self.proc is not None:
            try: self.wait()
            except AssertionError: pass
        if not self.applied: return None
        self.applied = False
        t = time.monotonic()
        r = self.tf('destroy', '-auto-approve', '-input=false', '-no-color', '-refresh=false', '-parallelism=20', '-var-file=test.tfvars.json')
        (self.tf.dir / 'destroy.log').write_text(r.stdout); self.destroy_s = time.monotonic() - t
        return r

@pytest.fixture(scope='module')
def applying(moto, tmp_path_factory):
    "The apply to moto, started in the background; destroyed at the end (test_destroy_leaves_nothing checks it)."
    s = Stack(terraform_dir(moto, tmp_path_factory, 'terraform'))
    yield s
    s.destroy()

@pytest.fixture(scope='module')
def stack(applying):
    "The configuration applied to moto (waits for the background apply)."
    return applying.wait()

@pytest.fixture(scope='module')
def tf(applying, moto, tmp_path_factory):
    "A second initialised copy, for validate and plans while the first is being applied (asking for it starts the apply)."
    return terraform_dir(moto, tmp_path_factory, 'terraform-plans')

@pytest.fixture(scope='module')
def aws(moto):
    class C:
        def __getattr__(self, name): return moto.client(name)
    return C()

def make_run(run, work):
    """The run the dashboard shows: a real, tiny run made by the console scripts a user runs, `scoliosis-xray train` on
    40 synthetic radiographs (ResNet18 from scratch, 2 epochs at 96x48 px; TensorBoard logs in RUN/tb/) and
    `scoliosis-xray evaluate` (report, metrics and figures in RUN/eval/). About 40 s, while the apply runs. The checks
    read the expected tags and values from RUN/tb/ itself."""
    from scoliosis_xray.synth import make_dataset
    make_dataset(work / 'data', n=40, seed=2, height=384, progress=False)
    env = clean_env(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    for args in (['train', '--data', work / 'data', '--out', run, '--epochs', '2', '--head-epochs', '1', '--image-size', '96x48',
                  '--batch-size', '8', '--backbone', 'resnet18', '--weights', 'none', '--seed', '0', '--num-workers', '0',
                  '--val', '0.25', '--test', '0.2', '--cache', work / 'cache', '--quiet'],
                 ['evaluate', '--run', run, '--n-boot', '200', '--quiet']):
        r = subprocess.run([str(BIN / 'scoliosis-xray'), *map(str, args)], capture_output=True, text=True, timeout=900, env=env)
        assert r.returncode == 0, f'scoliosis-xray {args[0]}: {r.stderr[-3000:]}'
    return run

@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    work = tmp_path_factory.mktemp('runs')
    return make_run(work / 'demo', work)

def local_scalars(run):
    "{tag: [(step, value)]} of the training run's event files (RUN/tb/train/), read locally with TensorBoard's own loader."
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    ea = EventAccumulator(str(run / 'tb' / 'train')); ea.Reload()
    return {tag: [(e.step, e.value) for e in ea.Scalars(tag)] for tag in ea.Tags()['scalars']}


# ---------------------------------------------------------------------------------------------------------------- static checks

def test_terraform_fmt():
    exe = shutil.which('terraform')
    if not exe: pytest.skip('terraform is not on PATH')
    r = subprocess.run([exe, 'fmt', '-check', '-recursive', '-diff', str(TF_SRC)], capture_output=True, text=True, env=clean_env())
    assert r.returncode == 0 and r.stdout == '', f'terraform fmt -check: run `terraform fmt deploy/terraform`\n{r.stdout}'

def test_terraform_validate(tf):
    r = tf('validate', '-no-color')
    assert 'The configuration is valid' in r.stdout and 'Warning' not in r.stdout + r.stderr, r.stdout

def test_demo_run(demo_run):
    "The run the TensorBoard check publishes: a training run's scalars per epoch and its evaluation (made while the apply runs)."
    scalars = local_scalars(demo_run)
    assert {'loss/train', 'loss/val', 'roc_auc/val'} <= set(scalars) and len(scalars['loss/val']) == 2, scalars
    from scoliosis_xray.deploy import run_files
    files = run_files(demo_run)
    assert 'eval/report.html' in files and any(f.startswith('tb/') for f in files) and any(f.startswith('eval/figures/') for f in files)
    assert not any(f.endswith(('.pt', '.csv')) for f in files), f'checkpoints and per-image tables stay local: {files}'

def test_dockerfile_non_root_pinned_no_logs():
    df = (TB_SRC / 'Dockerfile').read_text()
    lines = [l.strip() for l in df.splitlines() if l.strip() and not l.strip().startswith('#')]
    users = [l.split(None, 1)[1] for l in lines if l.upper().startswith('USER ')]
    assert users, 'the image must switch to a non-root USER'
    uid = users[-1].split(':')[0]
    assert uid.isdigit() and int(uid) > 0, f'USER {users[-1]} must be a numeric non-root uid (ECS checks runAsNonRoot by uid)'
    task_user = re.search(r'user\s*=\s*"([^"]+)"', (TF_SRC / 'ecs.tf').read_text()).group(1)
    assert task_user == users[-1], f'task definition user {task_user} differs from the image USER {users[-1]}'
    assert lines.index(next(l for l in lines if l.upper().startswith('ENTRYPOINT'))) > lines.index(f'USER {users[-1]}')
    copied = [w for l in lines if l.upper().startswith(('COPY', 'ADD')) for w in l.split()[1:-1] if not w.startswith('--')]
    assert sorted(copied) == ['entrypoint.sh', 'healthcheck.py', 'requirements.txt'], f'the image must carry no logs: copies {copied}'
    assert re.search(r'^FROM python:3\.\d+-slim', df, re.M) and 'HEALTHCHECK' in df and 'EXPOSE 6006' in df
    assert re.search(r'^ENTRYPOINT \["/app/entrypoint.sh"\]', df, re.M)
    pins = {}
    for l in (TB_SRC / 'requirements.txt').read_text().splitlines():
        if l.strip() and not l.startswith('#'):
            assert re.fullmatch(r'[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+', l.strip()), f'unpinned requirement: {l}'
            k, v = l.strip().split('=='); pins[k.lower()] = v
    assert {'tensorboard', 'boto3'} <= set(pins)
    sys.path.insert(0, str(ROOT / 'tools')); import check_lock        # the image runs exactly what the lock pins
    lock = check_lock.read_pins(ROOT / 'constraints.txt')
    drift = {k: (v, lock.get(k)) for k, v in pins.items() if v not in lock.get(k, set())}
    assert not drift, f'the image pins differ from constraints.txt (run make lock): {drift}'
    import tensorboard, boto3
    assert (pins['tensorboard'], pins['boto3']) == (tensorboard.__version__, boto3.__version__), 'the tests run other versions'

def test_entrypoint_script():
    ep = TB_SRC / 'entrypoint.sh'
    assert os.access(ep, os.X_OK), 'entrypoint.sh must be executable (git keeps the mode; the Dockerfile chmods it too)'
    assert subprocess.run(['sh', '-n', str(ep)]).returncode == 0
    assert subprocess.run(['bash', '-n', str(ROOT / 'deploy' / 'deploy.sh')]).returncode == 0, 'make deploy script'
    r = subprocess.run(['sh', str(ep)], env=clean_env(), capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and 'LOGDIR' in r.stderr, r.stderr


# ---------------------------------------------------------------------------------------------------------------- refused plans

@pytest.fixture(scope='module')
def var_checker(tmp_path_factory):
    "A working directory with only variables.tf: its validations run in `terraform plan` in a second, without a provider."
    exe = shutil.which('terraform')
    if not exe: pytest.skip('terraform is not on PATH')
    work = tmp_path_factory.mktemp('variables')
    shutil.copy2(TF_SRC / 'variables.tf', work / 'variables.tf')
    t = Terraform(exe, work, clean_env())
    t('init', '-input=false', '-backend=false')
    shutil.copy2(TF_SRC / 'terraform.tfvars.example', work / 'example.tfvars')
    def plan(*args, **vars):
        (work / 'v.tfvars.json').write_text(json.dumps({'image_tag': 'test', **vars}))
        r = t('plan', '-input=false', '-no-color', '-var-file=v.tfvars.json', *args, check=False)
        return r.returncode, re.sub(r'\s+', ' ', r.stdout + r.stderr)
    return plan

PUBLIC = 'opens the dashboard to the whole internet'

@pytest.mark.parametrize('cidrs,allow_public,refused', [
    (['0.0.0.0/0'], False, PUBLIC),
    ([ALLOWED, '0.0.0.0/0'], False, PUBLIC),
    (['10.0.0.0/7'], False, PUBLIC),
    (['0.0.0.0/0'], True, None),
    (['10.0.0.0/8', ALLOWED], False, None),
    ([], False, 'must list at least one'),
    (['not-a-cidr'], False, 'must be an IPv4 CIDR block'),
    (['::/0'], False, 'must be an IPv4 CIDR block'),
])
def test_variables_refuse_open_ingress(var_checker, cidrs, allow_public, refused):
    rc, out = var_checker(allowed_cidrs=cidrs, allow_public=allow_public)
    if refused: assert rc != 0 and refused in out, out[-2000:]
    else: assert rc == 0, out[-2000:]

def test_variables_required_and_sizes(var_checker):
    rc, out = var_checker()
    assert rc != 0 and 'allowed_cidrs' in out and 'No value for required variable' in out, out[-2000:]
    rc, out = var_checker(allowed_cidrs=[ALLOWED], task_cpu=512, task_memory=512)
    assert rc != 0 and 'not a valid Fargate size' in out
    rc, out = var_checker(allowed_cidrs=[ALLOWED], name='Not_Valid')
    assert rc != 0 and 'lowercase' in out
    rc, out = var_checker(allowed_cidrs=[ALLOWED], desired_count=2)
    assert rc != 0 and 'desired_count must be 0 or 1' in out
    rc, out = var_checker('-var-file=example.tfvars')
    assert rc == 0, f'terraform.tfvars.example must be valid as it is: {out[-2000:]}'

def test_plan_refuses_open_ingress(tf):
    "The full configuration: a plan with 0.0.0.0/0 and without allow_public fails, so there is nothing to apply."
    r = tf('plan', '-input=false', '-no-color', '-refresh=false', '-var', 'allowed_cidrs=["0.0.0.0/0"]', '-var', 'image_tag=test', check=False)
    out = re.sub(r'\s+', ' ', r.stdout + r.stderr)
    assert r.returncode == 1 and 'Invalid value for variable' in out and PUBLIC in out and 'allow_public = true' in out, out[-3000:]


# ---------------------------------------------------------------------------------------------------------------- applied resources

def test_apply_outputs(stack):
    o = stack.outputs
    bucket = o['logs_bucket']
    assert bucket == 'scoliosis-xray-tb-logs-123456789012' and o['logs_prefix'] == 'runs' and o['logdir'] == f's3://{bucket}/runs'
    assert o['ecr_repository_url'].endswith('.amazonaws.com/scoliosis-xray-tb')
    assert f"dashboard_url('{o['cluster']}', '{o['service']}', region='{REGION}'" in o['dashboard_url_command']
    print(f'terraform apply against moto: {stack.apply_s:.0f}s')

def test_network(stack, aws):
    vpc = next(v for v in aws.ec2.describe_vpcs()['Vpcs'] if v['CidrBlock'] == '10.42.0.0/16')
    vid = vpc['VpcId']
    assert aws.ec2.describe_vpc_attribute(VpcId=vid, Attribute='enableDnsHostnames')['EnableDnsHostnames']['Value']
    subnets = aws.ec2.describe_subnets(Filters=[{'Name': 'vpc-id', 'Values': [vid]}])['Subnets']
    assert len(subnets) == 1 and subnets[0]['CidrBlock'] == '10.42.0.0/24'
    assert subnets[0]['MapPublicIpOnLaunch'] is False, 'only the service asks for a public IP'
    igws = aws.ec2.describe_internet_gateways(Filters=[{'Name': 'attachment.vpc-id', 'Values': [vid]}])['InternetGateways']
    assert len(igws) == 1
    rts = aws.ec2.describe_route_tables(Filters=[{'Name': 'association.subnet-id', 'Values': [subnets[0]['SubnetId']]}])['RouteTables']
    assert len(rts) == 1
    routes = {r['DestinationCidrBlock']: r.get('GatewayId') for r in rts[0]['Routes'] if 'DestinationCidrBlock' in r}
    assert routes == {'10.42.0.0/16': 'local', '0.0.0.0/0': igws[0]['InternetGatewayId']}
    assert {t['Key']: t['Value'] for t in vpc['Tags']}.get('project') == 'scoliosis-xray'

def _sg(aws):
    return aws.ec2.describe_security_groups(Filters=[{'Name': 'group-name', 'Values': ['scoliosis-xray-tb-tensorboard']}])['SecurityGroups'][0]

def test_security_group_ingress_only_6006_from_allowed(stack, aws):
    sg = _sg(aws)
    rules = aws.ec2.describe_security_group_rules(Filters=[{'Name': 'group-id', 'Values': [sg['GroupId']]}])['SecurityGroupRules']
    ingress = [(r['IpProtocol'], r['FromPort'], r['ToPort'], r.get('CidrIpv4'), r.get('CidrIpv6'), r.get('ReferencedGroupInfo')) for r in rules if not r['IsEgress']]
    assert ingress == [('tcp', 6006, 6006, ALLOWED, None, None)], ingress
    # the same seen through the group itself: no other port, no IPv6, no other group, nothing from 0.0.0.0/0
    perms = sg['IpPermissions']
    assert [(p['IpProtocol'], p['FromPort'], p['ToPort'], [r['CidrIp'] for r in p['IpRanges']], p.get('Ipv6Ranges', []),
             p.get('UserIdGroupPairs', [])) for p in perms] == [('tcp', 6006, 6006, [ALLOWED], [], [])]

def test_security_group_egress_only_https(stack, aws):
    sg = _sg(aws)
    rules = aws.ec2.describe_security_group_rules(Filters=[{'Name': 'group-id', 'Values': [sg['GroupId']]}])['SecurityGroupRules']
    egress = [(r['IpProtocol'], r['FromPort'], r['ToPort'], r.get('CidrIpv4')) for r in rules if r['IsEgress']]
    assert egress == [('tcp', 443, 443, '0.0.0.0/0')], egress

def test_logs_bucket_private_encrypted_versioned(stack, aws):
    b = stack.outputs['logs_bucket']
    pab = aws.s3.get_public_access_block(Bucket=b)['PublicAccessBlockConfiguration']
    assert pab == dict(BlockPublicAcls=True, IgnorePublicAcls=True, BlockPublicPolicy=True, RestrictPublicBuckets=True)
    rule = aws.s3.get_bucket_encryption(Bucket=b)['ServerSideEncryptionConfiguration']['Rules'][0]
    assert rule['ApplyServerSideEncryptionByDefault']['SSEAlgorithm'] in ('AES256', 'aws:kms')
    assert aws.s3.get_bucket_versioning(Bucket=b).get('Status') == 'Enabled'
    own = aws.s3.get_bucket_ownership_controls(Bucket=b)['OwnershipControls']['Rules']
    assert own == [{'ObjectOwnership': 'BucketOwnerEnforced'}], 'ACLs must be disabled'
    assert aws.s3.get_bucket_policy_status(Bucket=b)['PolicyStatus']['IsPublic'] is False
    st = policy_statements(aws.s3.get_bucket_policy(Bucket=b)['Policy'])
    assert all(s['Effect'] == 'Deny' for s in st), 'the bucket policy only denies; access is granted by IAM roles'
    tls = [s for s in st if s.get('Condition', {}).get('Bool', {}).get('aws:SecureTransport') == 'false']
    assert tls and tls[0]['Principal'] in ('*', {'AWS': '*'}) and as_list(tls[0]['Action']) == ['s3:*']
    assert sorted(as_list(tls[0]['Resource'])) == [f'arn:aws:s3:::{b}', f'arn:aws:s3:::{b}/*']
    lc = aws.s3.get_bucket_lifecycle_configuration(Bucket=b)['Rules']
    assert lc[0]['Status'] == 'Enabled' and lc[0]['NoncurrentVersionExpiration']['NoncurrentDays'] == 30

def test_ecr_repository(stack, aws):
    repo = aws.ecr.describe_repositories(repositoryNames=['scoliosis-xray-tb'])['repositories'][0]
    assert repo['imageTagMutability'] == 'IMMUTABLE'
    assert repo['imageScanningConfiguration']['scanOnPush'] is True
    assert repo['encryptionConfiguration']['encryptionType'] in ('AES256', 'KMS')
    lp = json.loads(aws.ecr.get_lifecycle_policy(repositoryName='scoliosis-xray-tb')['lifecyclePolicyText'])
    assert lp['rules'][0]['selection']['countNumber'] == 10

def test_log_group(stack, aws):
    groups = aws.logs.describe_log_groups(logGroupNamePrefix='/ecs/scoliosis-xray-tb')['logGroups']
    assert [(g['logGroupName'], g.get('retentionInDays')) for g in groups] == [('/ecs/scoliosis-xray-tb', 30)]

def test_task_definition(stack, aws):
    td = aws.ecs.describe_task_definition(taskDefinition='scoliosis-xray-tb')['taskDefinition']
    assert td['requiresCompatibilities'] == ['FARGATE'] and td['networkMode'] == 'awsvpc'
    assert (td['cpu'], td['memory']) == ('256', '1024')
    assert td['runtimePlatform'] == {'cpuArchitecture': 'X86_64', 'operatingSystemFamily': 'LINUX'}
    assert td['taskRoleArn'].endswith(':role/scoliosis-xray-tb-task') and td['executionRoleArn'].endswith(':role/scoliosis-xray-tb-execution')
    [c] = td['containerDefinitions']
    user = c.get('user', '')
    assert user == '10001:10001' and user.split(':')[0] not in ('0', 'root'), f'container must run as non-root, user={user!r}'
    assert c.get('privileged') in (None, False)
    assert [(p['containerPort'], p.get('protocol', 'tcp')) for p in c['portMappings']] == [(6006, 'tcp')]
    assert c['image'] == f"{stack.outputs['ecr_repository_url']}:test"
    env = {e['name']: e['value'] for e in c['environment']}
    assert env['LOGDIR'] == stack.outputs['logdir'] and env['RELOAD_INTERVAL'] == '60'
    assert not any(k.startswith('AWS_ACCESS') or k.startswith('AWS_SECRET') for k in env), 'no credentials in the task definition'
    lc = c['logConfiguration']
    assert lc['logDriver'] == 'awslogs' and lc['options']['awslogs-group'] == '/ecs/scoliosis-xray-tb'
    assert c['healthCheck']['command'] == ['CMD', 'python', '/app/healthcheck.py']

def test_roles_least_privilege(stack, aws):
    iam, b, acct = aws.iam, stack.outputs['logs_bucket'], '123456789012'
    for role in ('scoliosis-xray-tb-task', 'scoliosis-xray-tb-execution'):
        r = iam.get_role(RoleName=role)['Role']
        doc = r['AssumeRolePolicyDocument']
        [s] = policy_statements(doc if isinstance(doc, (dict, str)) else json.dumps(doc))
        assert s['Effect'] == 'Allow' and as_list(s['Action']) == ['sts:AssumeRole']
        assert s['Principal'] == {'Service': 'ecs-tasks.amazonaws.com'}, s['Principal']
        assert s['Condition'] == {'StringEquals': {'aws:SourceAccount': acct}}
        assert iam.list_attached_role_policies(RoleName=role)['AttachedPolicies'] == [], f'{role}: no managed policies'
        assert len(iam.list_role_policies(RoleName=role)['PolicyNames']) == 1
    # task role: list the bucket and read objects under the prefix; nothing else, nowhere else
    name = iam.list_role_policies(RoleName='scoliosis-xray-tb-task')['PolicyNames'][0]
    st = policy_statements(iam.get_role_policy(RoleName='scoliosis-xray-tb-task', PolicyName=name)['PolicyDocument'])
    grants = sorted((a, r) for s in st for a in as_list(s['Action']) for r in as_list(s['Resource']))
    assert all(s['Effect'] == 'Allow' for s in st)
    assert grants == [('s3:GetObject', f'arn:aws:s3:::{b}/runs/*'), ('s3:ListBucket', f'arn:aws:s3:::{b}')], grants
    # execution role: pull from this repository, write to this log group; the ECR token is the only unscoped action
    name = iam.list_role_policies(RoleName='scoliosis-xray-tb-execution')['PolicyNames'][0]
    st = policy_statements(iam.get_role_policy(RoleName='scoliosis-xray-tb-execution', PolicyName=name)['PolicyDocument'])
    grants = sorted((a, r) for s in st for a in as_list(s['Action']) for r in as_list(s['Resource']))
    repo = f'arn:aws:ecr:{REGION}:{acct}:repository/scoliosis-xray-tb'
    logs = f'arn:aws:logs:{REGION}:{acct}:log-group:/ecs/scoliosis-xray-tb:*'
    assert grants == sorted([('ecr:GetAuthorizationToken', '*'), ('ecr:BatchCheckLayerAvailability', repo), ('ecr:BatchGetImage', repo),
                             ('ecr:GetDownloadUrlForLayer', repo), ('logs:CreateLogStream', logs), ('logs:PutLogEvents', logs)]), grants

def test_service(stack, aws):
    svc = aws.ecs.describe_services(cluster='scoliosis-xray-tb', services=['scoliosis-xray-tb'])['services'][0]
    assert svc['launchType'] == 'FARGATE' and svc['desiredCount'] == 1 and svc['status'] == 'ACTIVE'
    assert svc['taskDefinition'].split('/')[-1].startswith('scoliosis-xray-tb:')
    net = svc['networkConfiguration']['awsvpcConfiguration']
    subnet = aws.ec2.describe_subnets(Filters=[{'Name': 'cidr-block', 'Values': ['10.42.0.0/24']}])['Subnets'][0]['SubnetId']
    assert net['subnets'] == [subnet] and net['securityGroups'] == [_sg(aws)['GroupId']] and net['assignPublicIp'] == 'ENABLED'


# ---------------------------------------------------------------------------------------------------------------- TensorBoard from S3

def test_tensorboard_reads_published_run_from_s3(stack, moto, aws, demo_run, tmp_path):
    """Publish a run with the CLI into the bucket Terraform made; start the image's entrypoint on it as the task role,
    with moto enforcing IAM; read the run's curves over HTTP; a second run published meanwhile shows up."""
    bucket, logdir = stack.outputs['logs_bucket'], stack.outputs['logdir']
    # moto (5.2) cannot evaluate a bucket policy's conditions: it treats the TLS-only Deny as matching every request and
    # refuses all object requests, over HTTPS too. The policy document is checked in test_logs_bucket_*; here it is
    # set aside for the data path and put back afterwards (the task role's own limits are enforced below).
    policy = aws.s3.get_bucket_policy(Bucket=bucket)['Policy']
    aws.s3.delete_bucket_policy(Bucket=bucket)
    try: _publish_and_serve(stack, moto, aws, demo_run, tmp_path, bucket, logdir)
    finally: aws.s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert aws.s3.get_bucket_policy(Bucket=bucket)['Policy'] == policy

def _publish_and_serve(stack, moto, aws, demo_run, tmp_path, bucket, logdir):
    exe = BIN / 'scoliosis-xray'
    pub = lambda run, env: subprocess.run([str(exe), 'publish', '--run', str(run), '--bucket', bucket, '--endpoint-url', moto.url],
                                          env=env, capture_output=True, text=True, timeout=120)
    from scoliosis_xray.deploy import run_files, publish
    n = len(run_files(demo_run))
    r = pub(demo_run, clean_env())                                   # the console script, as a user runs it
    assert r.returncode == 0 and f': uploaded {n} file(s)' in r.stdout, r.stdout + r.stderr
    again = publish(demo_run, bucket, client=moto.client('s3'))      # in-process from here on (the CLI starts slowly)
    assert (again.uploaded, len(again.unchanged)) == ([], n), again
    aws.s3.put_object(Bucket=bucket, Key='private/notes.txt', Body=b'outside the logs prefix')
    # identities: the task role (assumed, as ECS does) and a publisher user that may write runs/
    c = aws.sts.assume_role(RoleArn=f"arn:aws:iam::123456789012:role/scoliosis-xray-tb-task", RoleSessionName='tensorboard')['Credentials']
    task = dict(aws_access_key_id=c['AccessKeyId'], aws_secret_access_key=c['SecretAccessKey'], aws_session_token=c['SessionToken'])
    aws.iam.create_user(UserName='publisher')
    aws.iam.put_user_policy(UserName='publisher', PolicyName='publish', PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [
        {'Effect': 'Allow', 'Action': ['s3:ListBucket'], 'Resource': f'arn:aws:s3:::{bucket}'},
        {'Effect': 'Allow', 'Action': ['s3:GetObject', 's3:PutObject'], 'Resource': f'arn:aws:s3:::{bucket}/runs/*'}]}))
    k = aws.iam.create_access_key(UserName='publisher')['AccessKey']
    tb = None
    moto.enforce_iam(True)
    try:
        s3t = moto.client('s3', **task)
        s3t.get_object(Bucket=bucket, Key='runs/demo/eval/report.html')             # the task role reads the logs ...
        from botocore.exceptions import ClientError
        for call in (lambda: s3t.put_object(Bucket=bucket, Key='runs/demo/x', Body=b'x'),   # ... and nothing else
                     lambda: s3t.delete_object(Bucket=bucket, Key='runs/demo/eval/report.html'),
                     lambda: s3t.get_object(Bucket=bucket, Key='private/notes.txt'),
                     lambda: moto.client('iam', **task).list_roles(),
                     lambda: moto.client('s3').list_objects_v2(Bucket=bucket)):             # and moto is really enforcing
            with pytest.raises(ClientError) as e: call()
            assert e.value.response['Error']['Code'] in ('AccessDenied', 'InvalidAccessKeyId', 'InvalidClientTokenId'), e.value.response

        port = free_port()
        env = clean_env(LOGDIR=logdir, HOST='127.0.0.1', PORT=str(port), RELOAD_INTERVAL='2', S3_ENDPOINT=moto.url,
                        AWS_ACCESS_KEY_ID=task['aws_access_key_id'], AWS_SECRET_ACCESS_KEY=task['aws_secret_access_key'],
                        AWS_SESSION_TOKEN=task['aws_session_token'])
        log = tmp_path / 'tensorboard.log'
        with open(log, 'wb') as f:
            tb = subprocess.Popen(['sh', str(TB_SRC / 'entrypoint.sh')], env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        base = f'http://127.0.0.1:{port}'
        expected = local_scalars(demo_run)
        assert {'loss/train', 'loss/val', 'roc_auc/val'} <= set(expected)
        ready = wait_http(f'{base}/data/plugin/scalars/tags', 90, tb, ok=lambda b: 'demo/tb/train' in json.loads(b))
        assert ready, f'TensorBoard did not show the run:\n{log.read_text()[-4000:]}'
        envj = get_json(f'{base}/data/environment')
        assert envj['data_location'] == logdir and envj['window_title'] == 'scoliosis-xray'
        tags = get_json(f'{base}/data/plugin/scalars/tags')
        assert set(tags['demo/tb/train']) == set(expected), tags
        for tag, pts in expected.items():
            got = get_json(f'{base}/data/plugin/scalars/scalars?run=demo/tb/train&tag={urllib.request.quote(tag)}')
            assert [(s, pytest.approx(v, rel=1e-6)) for _, s, v in got] == pts, (tag, got, pts)
        with urllib.request.urlopen(base + '/', timeout=10) as r_:
            assert r_.status == 200 and b'<html' in r_.read(2000).lower()
        sys.path.insert(0, str(ROOT / 'tools')); import browser                   # the dashboard in a real browser: one page load
        if browser.chromium():
            seen = browser.page_load(f'{base}/#scalars', 'demo/tb/train', browser.SHOTS / 'tensorboard-s3.png')
            assert seen, f'the TensorBoard page served from S3 never showed the run demo/tb/train:\n{log.read_text()[-3000:]}'
        # the health check the image and the task definition run
        hc = [sys.executable, str(TB_SRC / 'healthcheck.py')]
        assert subprocess.run(hc, env=clean_env(PORT=str(port)), timeout=30).returncode == 0
        assert subprocess.run(hc, env=clean_env(PORT=str(free_port())), capture_output=True, timeout=30).returncode == 1
        # a run published while the dashboard runs appears without a restart
        second = shutil.copytree(demo_run, tmp_path / 'second')       # another run, published by a publisher identity
        r2 = publish(second, bucket, client=moto.client('s3', aws_access_key_id=k['AccessKeyId'], aws_secret_access_key=k['SecretAccessKey']))
        assert len(r2.uploaded) == n, r2
        assert wait_http(f'{base}/data/plugin/scalars/tags', 60, tb, ok=lambda b: 'second/tb/train' in json.loads(b)), log.read_text()[-3000:]
        assert tb.poll() is None, 'TensorBoard exited'
        assert 'AccessDenied' not in log.read_text(), log.read_text()[-3000:]
    finally:
        stop(tb)
        moto.enforce_iam(False)
    assert tb.returncode is not None


# ---------------------------------------------------------------------------------------------------------------- destroy (last)

def test_destroy_leaves_nothing(stack, aws):
    r = stack.destroy()
    assert r is not None and 'Destroy complete!' in r.stdout, r.stdout[-2000:] if r else 'not applied'
    print(f'terraform destroy against moto: {stack.destroy_s:.0f}s')
    assert stack.tf('state', 'list', check=False).stdout.strip() == ''
    assert not [v for v in aws.ec2.describe_vpcs()['Vpcs'] if v['CidrBlock'] == '10.42.0.0/16']
    assert not aws.ec2.describe_security_groups(Filters=[{'Name': 'group-name', 'Values': ['scoliosis-xray-tb-tensorboard']}])['SecurityGroups']
    assert not aws.ec2.describe_internet_gateways(Filters=[{'Name': 'tag:project', 'Values': ['scoliosis-xray']}])['InternetGateways']
    assert stack.outputs['logs_bucket'] not in [b['Name'] for b in aws.s3.list_buckets()['Buckets']]
    assert 'scoliosis-xray-tb' not in [r['repositoryName'] for r in aws.ecr.describe_repositories()['repositories']]
    assert not [r for r in aws.iam.list_roles()['Roles'] if r['RoleName'].startswith('scoliosis-xray-tb')]
    assert not aws.logs.describe_log_groups(logGroupNamePrefix='/ecs/scoliosis-xray-tb')['logGroups']
    clusters = aws.ecs.describe_clusters(clusters=['scoliosis-xray-tb'])['clusters']
    assert all(c['status'] == 'INACTIVE' for c in clusters)
    assert not aws.ecs.list_task_definitions(familyPrefix='scoliosis-xray-tb', status='ACTIVE')['taskDefinitionArns']
