"""Website search URLs as API v2 parameters, and `crawl ctgov --search-url` asking the API
with them (a loopback server replaying recorded responses).

Every URL below is one seen in use, with where it was seen: the R package ctrdata's tests
(repository rfhb/ctrdata), which load them from ClinicalTrials.gov.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES
from trialwatch.cli import cli
from trialwatch.demo.replay import ReplayServer
from trialwatch.spiders.search_url import merge, translate

# rfhb/ctrdata, inst/tinytest/test_ctrdata_function_various.R
SEARCH = (
    "https://clinicaltrials.gov/search?cond=neuroblastoma&intr=Investigational%20drug"
    "&aggFilters=ages:child,status:com&rank=8&sort=EnrollmentCount%3Adesc%2CNumArmGroups"
)
SEARCH_WWW = (
    "https://www.clinicaltrials.gov/search?cond=neuroblastoma&intr=Investigational%20drug"
    "&aggFilters=ages:child,status:com&rank=200&sort=EnrollmentCount%3Adesc%2CNumArmGroups"
)
STUDY = (
    "https://clinicaltrials.gov/study/NCT01467986?cond=neuroblastoma"
    "&intr=Investigational%20drug&aggFilters=ages:child,status:com&rank=2"
)
EXPERT = (
    "https://clinicaltrials.gov/expert-search?term=heart attack AND "
    "AREA[LocationCountry]United States AND AREA[LocationStatus]Recruiting"
)
# rfhb/ctrdata, inst/tinytest/ctrdata_ctgov2.R
COMPLETED_BY = (
    "https://www.clinicaltrials.gov/search?cond=Cancer"
    "&aggFilters=phase:0,status:ter,studyType:int&studyComp=_2015-12-31"
)
PHASE_3 = "https://clinicaltrials.gov/search?cond=neuroblastoma&aggFilters=phase:3,status:com"
# the same file's test of every website field, written on several lines there and joined
EVERY_FIELD = (
    "https://clinicaltrials.gov/search?&locn=MyFacility&locStr=USA&country=United%20States"
    "&distance=50&ageRange=18d_64y&cond=cancer&term=krebs&intr=Investigational%20drug"
    "&start=1990-01-01_2030-01-01&primComp=1990-01-01_2030-01-01"
    "&firstPost=1990-01-01_2030-01-01&aggFilters=funderType:industry,phase:2,results:without,"
    "status:rec%20act,studyType:int%20exp%20exp_indiv,violation:y&resFirstPost=_2030-01-01"
    "&lastUpdPost=1990-01-01_2030-01-01&studyComp=1990-01-01_&titles=MyAcronym"
    "&outc=MyOutComeMeasure&spons=MySponsor&lead=MySponsorLead&id=NCT05429502"
)

NEUROBLASTOMA = [
    ("query.cond", "neuroblastoma"),
    ("query.intr", "Investigational drug"),
    ("aggFilters", "ages:child,status:com"),
]


def test_search_page_with_rank_and_sort() -> None:
    found = translate(SEARCH)
    assert found.params == [*NEUROBLASTOMA, ("sort", "EnrollmentCount:desc,NumArmGroups")]
    assert [u.split(":")[0] for u in found.untranslated] == ["rank=8"]
    www = translate(SEARCH_WWW)
    assert www.params == found.params and www.untranslated[0].startswith("rank=200:")


def test_study_page_reached_from_a_search() -> None:
    found = translate(STUDY)
    assert found.params == NEUROBLASTOMA
    assert found.untranslated[0].startswith("NCT01467986:")
    assert found.untranslated[1].startswith("rank=2:")


def test_expert_search_is_a_full_text_term() -> None:
    found = translate(EXPERT)
    assert found.params == [
        (
            "query.term",
            "heart attack AND AREA[LocationCountry]United States AND "
            "AREA[LocationStatus]Recruiting",
        )
    ]
    assert found.untranslated == []


def test_date_ranges_become_essie_ranges() -> None:
    found = translate(COMPLETED_BY)
    assert found.params == [
        ("query.cond", "Cancer"),
        ("aggFilters", "phase:0,status:ter,studyType:int"),
        ("filter.advanced", "AREA[CompletionDate]RANGE[MIN,2015-12-31]"),
    ]
    assert translate(PHASE_3).params == [
        ("query.cond", "neuroblastoma"),
        ("aggFilters", "phase:3,status:com"),
    ]


def test_every_website_field() -> None:
    found = translate(EVERY_FIELD)
    params = dict(found.params)
    assert len(params) == len(found.params)  # each name once
    assert {k: params[k] for k in params if k.startswith("query.") and k != "query.locn"} == {
        "query.cond": "cancer",
        "query.term": "krebs",
        "query.intr": "Investigational drug",
        "query.titles": "MyAcronym",
        "query.outc": "MyOutComeMeasure",
        "query.spons": "MySponsor",
        "query.lead": "MySponsorLead",
        "query.id": "NCT05429502",
    }
    assert params["aggFilters"] == (
        "funderType:industry,phase:2,results:without,status:rec act,"
        "studyType:int exp exp_indiv,violation:y"
    )
    # one location holds the facility and the country; the typed place (locStr) is redundant
    assert params["query.locn"] == (
        'SEARCH[Location](AREA[LocationFacility]"MyFacility" AND '
        'AREA[LocationCountry]"United States")'
    )
    assert sorted(params["filter.advanced"].split(" AND ")) == sorted(
        [
            "AREA[StartDate]RANGE[1990-01-01,2030-01-01]",
            "AREA[PrimaryCompletionDate]RANGE[1990-01-01,2030-01-01]",
            "AREA[StudyFirstPostDate]RANGE[1990-01-01,2030-01-01]",
            "AREA[ResultsFirstPostDate]RANGE[MIN,2030-01-01]",
            "AREA[LastUpdatePostDate]RANGE[1990-01-01,2030-01-01]",
            "AREA[CompletionDate]RANGE[1990-01-01,MAX]",
        ]
    )
    assert [u.split(":")[0] for u in found.untranslated] == ["distance=50", "ageRange=18d_64y"]


@pytest.mark.parametrize(
    "url",
    [
        "https://classic.clinicaltrials.gov/ct2/results?type=Intr&cond=cancer&age=0",
        "https://www.clinicaltrialsregister.eu/ctr-search/search?query=&age=under-18",
        "https://clinicaltrials.gov/study/NCT01467986",  # a study, no search
        "https://clinicaltrials.gov/about-site/about-ctg",
        "clinicaltrials.gov/search?cond=neuroblastoma",  # no scheme
        "ftp://clinicaltrials.gov/search?cond=neuroblastoma",
        "",
    ],
)
def test_not_a_website_search_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="ClinicalTrials.gov|no search"):
        translate(url)


def test_merge_adds_a_search_to_the_query() -> None:
    merged = merge({"query.cond": "cancer", "filter.overallStatus": "RECRUITING"}, NEUROBLASTOMA)
    assert merged["query.cond"] == "(cancer) AND (neuroblastoma)"
    assert merged["aggFilters"] == "ages:child,status:com"
    assert merge({"aggFilters": "phase:2"}, [("aggFilters", "status:com")]) == {
        "aggFilters": "phase:2,status:com"
    }
    with pytest.raises(ValueError, match="sort given twice"):
        merge({"sort": "LastUpdatePostDate"}, [("sort", "EnrollmentCount:desc")])


# -- the crawl command ------------------------------------------------------------------------


@pytest.fixture
def server():
    with ReplayServer(FIXTURES / "ctgov_spider") as srv:
        yield srv


def _crawl(tmp_path, server, *args):
    argv = ["--db", f"sqlite:///{tmp_path / 'tw.db'}", "crawl", "ctgov"]
    argv += ["--base-url", server.base_url, "--delay", "0", *args]
    env = {"TRIALWATCH_DATA_DIR": str(tmp_path / "data")}
    return CliRunner().invoke(cli, argv, env=env, catch_exceptions=False)


def test_crawl_asks_the_api_with_the_translated_search(tmp_path, server) -> None:
    result = _crawl(tmp_path, server, "--search-url", SEARCH)
    assert result.exit_code == 0, result.output
    assert "--search-url: left out rank=8:" in result.stderr
    first = server.requests_to("/api/v2/studies")[0]
    assert first.query == {
        "pageSize": ["1000"],
        "query.cond": ["neuroblastoma"],
        "query.intr": ["Investigational drug"],
        "aggFilters": ["ages:child,status:com"],
        "sort": ["EnrollmentCount:desc,NumArmGroups"],
    }
    # every page of the replayed search is fetched with the same search
    pages = server.requests_to("/api/v2/studies")
    assert len(pages) > 1 and all(p.param("query.cond") == "neuroblastoma" for p in pages)


def test_crawl_search_url_adds_to_query(tmp_path, server) -> None:
    result = _crawl(
        tmp_path,
        server,
        "--search-url",
        COMPLETED_BY,
        "--query",
        "filter.overallStatus=TERMINATED",
        "--query",
        "query.cond=lung",
    )
    assert result.exit_code == 0, result.output
    first = server.requests_to("/api/v2/studies")[0]
    assert first.param("filter.overallStatus") == "TERMINATED"
    assert first.param("query.cond") == "(lung) AND (Cancer)"
    assert first.param("filter.advanced") == "AREA[CompletionDate]RANGE[MIN,2015-12-31]"
    assert first.param("aggFilters") == "phase:0,status:ter,studyType:int"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("ctgov", "--search-url", "https://example.org/search?cond=x"), "not a ClinicalTrials"),
        (("ctgov", "--search-url", "https://clinicaltrials.gov/study/NCT01467986"), "no search"),
        (("veeva", "--search-url", SEARCH), "only for ctgov"),
    ],
)
def test_crawl_bad_search_url_is_one_line_exit_2(tmp_path, args, said) -> None:
    argv = ["--db", f"sqlite:///{tmp_path / 'tw.db'}", "crawl", *args]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and said in result.stderr
    assert not (tmp_path / "tw.db").exists()


def test_a_scheduled_crawl_keeps_the_translated_search(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    argv = ["--db", db, "schedule", "add", "--every", "6h", "crawl", "ctgov", "--search-url"]
    added = CliRunner().invoke(cli, [*argv, SEARCH], catch_exceptions=False)
    assert added.exit_code == 0, added.output
    listed = CliRunner().invoke(cli, ["--db", db, "schedule", "list", "--json"])
    [job] = json.loads(listed.stdout)
    said = " ".join(f"--query {k}={v}" for k, v in sorted(translate(SEARCH).params))
    assert job["name"] == f"crawl ctgov {said}", job
