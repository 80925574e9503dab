async def test_world_builds(world):
    r = await world.book()
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending"
