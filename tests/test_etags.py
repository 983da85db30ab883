"""Books carry an ETag: GET revalidates with If-None-Match, writes are guarded by If-Match."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from factories import create_author, create_book, expect_error


async def book_with_etag(client: httpx.AsyncClient, **fields: object) -> tuple[dict, str]:
    book = await create_book(client, **fields)
    response = await client.get(f"/books/{book['id']}")
    assert response.status_code == 200, response.text
    return response.json(), response.headers["etag"]


def is_strong_etag(value: str) -> bool:
    return len(value) > 2 and value.startswith('"') and value.endswith('"')


async def test_post_get_and_patch_answer_with_the_same_strong_etag_for_the_same_book(
    client: httpx.AsyncClient,
) -> None:
    author = await create_author(client)
    created = await client.post("/books", json={"title": "Etags", "author_id": author["id"]})
    book_id = created.json()["id"]

    fetched = await client.get(f"/books/{book_id}")
    patched = await client.patch(f"/books/{book_id}", json={"title": "Etags, again"})
    fetched_again = await client.get(f"/books/{book_id}")

    assert is_strong_etag(created.headers["etag"])
    assert fetched.headers["etag"] == created.headers["etag"]
    assert patched.headers["etag"] != created.headers["etag"]
    assert fetched_again.headers["etag"] == patched.headers["etag"]


async def test_if_none_match_with_the_current_etag_answers_304_without_a_body(
    client: httpx.AsyncClient,
) -> None:
    book, etag = await book_with_etag(client)

    response = await client.get(f"/books/{book['id']}", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


@pytest.mark.parametrize("header", ["*", '"older", {etag}', '"older",{etag}', "W/{etag}"])
async def test_if_none_match_matches_a_star_a_list_and_a_weak_tag(
    client: httpx.AsyncClient, header: str
) -> None:
    book, etag = await book_with_etag(client)

    response = await client.get(
        f"/books/{book['id']}", headers={"If-None-Match": header.format(etag=etag)}
    )

    assert response.status_code == 304


async def test_if_none_match_with_an_old_etag_answers_200_with_the_book(
    client: httpx.AsyncClient,
) -> None:
    book, old_etag = await book_with_etag(client)
    await client.patch(f"/books/{book['id']}", json={"price": "9.99"})

    response = await client.get(f"/books/{book['id']}", headers={"If-None-Match": old_etag})

    assert response.status_code == 200
    assert response.json()["price"] == "9.99"
    assert response.headers["etag"] != old_etag


async def test_if_none_match_on_a_missing_book_is_404(client: httpx.AsyncClient) -> None:
    expect_error(await client.get("/books/999999", headers={"If-None-Match": "*"}), 404)


async def test_patch_with_the_current_etag_succeeds_and_answers_a_new_etag(
    client: httpx.AsyncClient,
) -> None:
    book, etag = await book_with_etag(client)

    response = await client.patch(
        f"/books/{book['id']}", json={"title": "Guarded"}, headers={"If-Match": etag}
    )

    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Guarded"
    assert response.headers["etag"] != etag


async def test_patch_with_a_stale_etag_is_412_and_leaves_the_book_unchanged(
    client: httpx.AsyncClient,
) -> None:
    book, stale = await book_with_etag(client)
    current = (await client.patch(f"/books/{book['id']}", json={"title": "Theirs"})).json()

    response = await client.patch(
        f"/books/{book['id']}", json={"title": "Mine"}, headers={"If-Match": stale}
    )

    expect_error(response, 412)
    assert (await client.get(f"/books/{book['id']}")).json() == current


@pytest.mark.parametrize("header", ["*", '"older", {etag}'])
async def test_if_match_accepts_a_star_or_a_list_holding_the_current_etag(
    client: httpx.AsyncClient, header: str
) -> None:
    book, etag = await book_with_etag(client)

    response = await client.patch(
        f"/books/{book['id']}",
        json={"title": "Listed"},
        headers={"If-Match": header.format(etag=etag)},
    )

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("header", ["W/{etag}", "{bare}", '""'])
async def test_if_match_refuses_a_weak_or_malformed_etag(
    client: httpx.AsyncClient, header: str
) -> None:
    book, etag = await book_with_etag(client)

    response = await client.patch(
        f"/books/{book['id']}",
        json={"title": "Weak"},
        headers={"If-Match": header.format(etag=etag, bare=etag.strip('"'))},
    )

    expect_error(response, 412)


async def test_if_match_on_a_missing_book_is_404(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        "/books/999999", json={"title": "x"}, headers={"If-Match": '"a"'}
    )

    expect_error(response, 404)


async def test_two_concurrent_patches_from_one_version_lose_no_update(
    client: httpx.AsyncClient,
) -> None:
    for round_number in range(5):
        book, etag = await book_with_etag(client)
        titles = [f"Edit A {round_number}", f"Edit B {round_number}"]

        responses = await asyncio.gather(
            *(
                client.patch(
                    f"/books/{book['id']}", json={"title": title}, headers={"If-Match": etag}
                )
                for title in titles
            )
        )

        assert sorted(response.status_code for response in responses) == [200, 412]
        (winner,) = [
            titles[i] for i, response in enumerate(responses) if response.status_code == 200
        ]
        final = await client.get(f"/books/{book['id']}")
        assert final.json()["title"] == winner
        (answer,) = [response for response in responses if response.status_code == 200]
        assert final.headers["etag"] == answer.headers["etag"]


async def test_each_patch_makes_a_new_etag_even_with_the_same_values(
    client: httpx.AsyncClient,
) -> None:
    book, etag = await book_with_etag(client)

    first = await client.patch(f"/books/{book['id']}", json={"title": book["title"]})
    second = await client.patch(f"/books/{book['id']}", json={"title": book["title"]})

    assert len({etag, first.headers["etag"], second.headers["etag"]}) == 3


async def test_renaming_the_author_changes_the_books_etag(client: httpx.AsyncClient) -> None:
    book, etag = await book_with_etag(client)
    await client.patch(f"/authors/{book['author']['id']}", json={"name": "Renamed"})

    response = await client.get(f"/books/{book['id']}", headers={"If-None-Match": etag})

    assert response.status_code == 200
    assert response.json()["author"]["name"] == "Renamed"


async def test_delete_with_a_stale_etag_is_412_and_keeps_the_book(
    client: httpx.AsyncClient,
) -> None:
    book, stale = await book_with_etag(client)
    await client.patch(f"/books/{book['id']}", json={"title": "Changed meanwhile"})

    response = await client.delete(f"/books/{book['id']}", headers={"If-Match": stale})

    expect_error(response, 412)
    assert (await client.get(f"/books/{book['id']}")).status_code == 200


async def test_delete_with_the_current_etag_deletes_the_book(client: httpx.AsyncClient) -> None:
    book, etag = await book_with_etag(client)

    response = await client.delete(f"/books/{book['id']}", headers={"If-Match": etag})

    assert response.status_code == 204
    expect_error(await client.get(f"/books/{book['id']}"), 404)
