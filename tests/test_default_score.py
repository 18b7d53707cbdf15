"""The search's default score (issue 36): a search with the built-in training ranks by its mean
training loss (sotl, lower is better) from a zeroed classifier; compare, a training function of
your own, --objective mnas and every folder that stores no metric rank by val top-1."""

import json

import pytest

from scalesearch.coefsearch.fidelity import reference_config
from scalesearch.errors import ScalesearchError
from scalesearch.settings import CompareConfig, FidelityConfig, SearchConfig
from scalesearch.settings.recipe import ProxySetup, TrainConfig
from scalesearch.settings.search import Objective


def _score(cfg) -> tuple:
    return cfg.setup.metric, cfg.setup.mode, cfg.setup.train.head_init


def test_a_search_with_the_built_in_ranks_by_its_training_loss_from_a_zeroed_head():
    cfg = SearchConfig()
    assert _score(cfg) == ("sotl", "min", "zero")
    assert cfg.setup.ranked == "-sotl" and cfg.setup.sign == -1
    assert cfg.setup.ranks_loss and not cfg.setup.ranks_top1 and cfg.setup.keeps_top1
    assert cfg.defaulted == ("metric", "mode", "head_init")
    stored = cfg.to_dict()
    assert "defaulted" not in stored
    assert (stored["setup"]["metric"], stored["setup"]["mode"],
            stored["setup"]["train"]["head_init"]) == ("sotl", "min", "zero")


@pytest.mark.parametrize("given, expected", [
    (dict(setup=ProxySetup(trainer="mypkg.train:fit")), ("top1", "max", "reference")),
    (dict(objective=Objective("mnas", target_flops=1e6)), ("top1", "max", "reference")),
    (dict(setup=ProxySetup(metric="top1")), ("top1", "max", "reference")),  # 0.8's default
    (dict(setup=ProxySetup(metric="sotl")), ("sotl", "min", "zero")),
    (dict(setup=ProxySetup(mode="max")), ("sotl", "max", "reference")),
    (dict(setup=ProxySetup(train=TrainConfig(head_init="reference"))),
     ("sotl", "min", "reference")),
    (dict(setup=ProxySetup(trainer="mypkg.train:fit", metric="miou")),
     ("miou", "max", "reference")),
])
def test_what_is_given_is_kept_and_the_rest_follows_it(given, expected):
    assert _score(SearchConfig(**given)) == expected


def test_compare_and_a_setup_no_command_settled_rank_by_top1():
    assert _score(CompareConfig(baseline="mobilenet-v2")) == ("top1", "max", "reference")
    setup = ProxySetup()  # built directly: read as the plain recipe
    assert setup.metric is None and setup.ranked == "top-1" and setup.ranks_top1
    assert setup.sign == 1 and setup.plain.train.head_init == "reference"
    assert ProxySetup(metric="sotl").sign == -1  # its mode follows the loss


def test_a_folder_written_before_the_default_changed_reads_back_as_top1():
    old = SearchConfig(setup=ProxySetup(metric="top1")).to_dict()
    assert "metric" not in old["setup"] and "head_init" not in old["setup"]["train"]
    back = SearchConfig.from_dict(json.loads(json.dumps(old)))
    assert _score(back) == ("top1", "max", "reference") and back.defaulted == ()
    new = SearchConfig.from_dict(json.loads(json.dumps(SearchConfig().to_dict())))
    assert _score(new) == ("sotl", "min", "zero")


def test_a_resume_takes_the_fields_it_left_to_the_default_from_the_folder():
    old = SearchConfig(setup=ProxySetup(metric="top1")).to_dict()  # as 0.8 stored a search
    resumed = SearchConfig().resumed(old)
    assert _score(resumed) == ("top1", "max", "reference") and resumed.defaulted == ()
    assert resumed.to_dict() == old  # so the resume's check finds the same recipe
    # a field given on the command line is kept: the check then names it
    given = SearchConfig(setup=ProxySetup(metric="sotl", mode="min")).resumed(old)
    assert _score(given) == ("sotl", "min", "reference")
    # a folder of the new default resumes as it began
    assert _score(SearchConfig().resumed(SearchConfig().to_dict())) == ("sotl", "min", "zero")


def test_a_damaged_stored_score_is_refused_in_one_line():
    bad = SearchConfig(setup=ProxySetup(metric="top1")).to_dict()
    bad["setup"]["mode"] = "sideways"
    with pytest.raises(ScalesearchError, match="--mode must be max or min"):
        SearchConfig().resumed(bad)


def test_the_fidelity_reference_of_a_loss_ranked_search_ranks_by_top1():
    ref = reference_config(SearchConfig(), FidelityConfig())
    assert _score(ref) == ("top1", "max", "zero")  # the same training, judged by top-1
    own = SearchConfig(setup=ProxySetup(trainer="mypkg.train:fit", metric="miou"))
    assert _score(reference_config(own, FidelityConfig())) == ("miou", "max", "reference")


def test_the_help_says_which_default_each_command_gets(cli):
    _, out, _ = cli("search", "--help")
    text = " ".join(out.split())
    assert "Default: sotl" in text and "top1 otherwise" in text
    assert "default: zero where the ranking reads" in text
